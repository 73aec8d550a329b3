"""The zoo detector as a trainable DB network: conversion check, DB loss, export back to ONNX."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from service.tooling.training.det.loss import balanced_bce, db_loss
from service.tooling.training.onnx_torch import ConversionError, check_against_onnx
from tests.conftest import data_path

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def source(zoo, weights_ready):
    from service.tooling.packaging.weights import weight_path

    return weight_path(zoo.get("dbnet"))


@pytest.fixture(scope="module")
def photos():
    from service.tooling.training.det.data import read_samples

    root = data_path("icdar2015_train")
    return read_samples(root, "icdar", {"img_1.jpg", "img_2.jpg"})


@pytest.fixture(scope="module")
def inputs(photos):
    from handlers.predictors.db import DBConfig
    from service.tooling.training.det.run import served_inputs

    return served_inputs(photos, DBConfig(), n=1, limit=256)


def _build(source, inputs):
    from service.tooling.training.det.run import build

    return build(source, inputs)


def test_balanced_bce_takes_three_hardest_negatives_per_positive():
    prob = torch.tensor([0.5, 0.9, 0.8, 0.7, 0.1, 0.05, 0.01, 0.2])
    gt = torch.tensor([1.0, 0, 0, 0, 0, 0, 0, 0])
    mask = torch.ones(8)
    bce = lambda p, y: -np.log(p if y else 1 - p)  # noqa: E731
    expected = (bce(0.5, 1) + bce(0.9, 0) + bce(0.8, 0) + bce(0.7, 0)) / 4
    assert balanced_bce(prob, gt, mask).item() == pytest.approx(expected, rel=1e-5)
    mask[1] = 0  # a masked-out negative is not among them
    expected = (bce(0.5, 1) + bce(0.8, 0) + bce(0.7, 0) + bce(0.2, 0)) / 4
    assert balanced_bce(prob, gt, mask).item() == pytest.approx(expected, rel=1e-5)


def test_conversion_equals_onnxruntime_and_a_wrong_module_fails(source, inputs):
    model, mapping, worst = _build(source, inputs)
    assert worst < 1e-3 and len(mapping) == len(model.net.state_dict())
    model.eval()
    with torch.no_grad():
        assert model(torch.from_numpy(inputs[0])).shape[1:] == (1, *inputs[0].shape[2:])
        # one bias of the probability head moved by 0.05: the check must refuse it
        head = [m for m in model.net.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        head.bias[0] += 0.05
    with pytest.raises(ConversionError, match="differs from onnxruntime"):
        check_against_onnx(model, source, inputs)


def _overfit_batch(photos):
    from service.tooling.training.det.augment import AugmentOptions
    from handlers.predictors.db import DBConfig
    from service.tooling.training.det.data import DetTrainSet

    dataset = DetTrainSet(photos, DBConfig(), AugmentOptions(size=256, rotate=0, jitter=0), seed=3)
    return torch.utils.data.default_collate([dataset[0], dataset[1]])


def test_db_loss_falls_when_overfitting_two_photos(source, inputs, photos):
    torch.manual_seed(0)  # the new threshold head starts from random weights: the same ones every run
    model, _, _ = _build(source, inputs)
    model.freeze_first(0.6)
    model.train()
    batch = _overfit_batch(photos)
    assert batch["shrink"].sum() > 100  # the crops hold text
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-4)
    losses = []
    for _ in range(8):
        prob, thr = model(batch["image"])
        assert thr.shape == prob.shape == (2, 1, 256, 256)
        loss, parts = db_loss(prob, thr, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses


def test_export_writes_the_trained_weights_and_equals_torch(source, inputs, photos, tmp_path):
    from service.tooling.training.det.run import export

    model, mapping, _ = _build(source, inputs)
    with torch.no_grad():  # a "trained" network: every weight of the last stage and head changed
        for p in list(model.net.parameters())[-20:]:
            p.mul_(1.05).add_(0.01)
    target = tmp_path / "det.onnx"
    changed, worst = export(model, mapping, source, target, inputs, {"step": 1})
    assert changed == 20 and worst < 1e-3
    import onnx

    assert "ocrserve_training" in {p.key for p in onnx.load(str(target)).metadata_props}
    # the untrained module is not what was written
    untrained, _, _ = _build(source, inputs)
    with pytest.raises(ConversionError):
        check_against_onnx(untrained, target, inputs)
