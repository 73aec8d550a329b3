"""scripts/gpu_check.py's parity rules, on the CPU: a second CPU backend stands in for the GPU one;
equal models pass, a model with one weight scaled by 1.001 fails (so the check can fail)."""
from __future__ import annotations

import importlib.util
import sys

import cv2
import pytest

from tests.conftest import REPO, SHARED, data_path

DET, REC = "dbnet_resnet18_fpnc_1200e_icdar2015", "crnn_mini-vgg_5e_mj"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def models(gpu_check, tmp_path_factory):
    if not (SHARED / "oracle" / "models").is_dir():
        pytest.skip(f"MMOCR oracle not available under {SHARED}")
    from service.tooling.local_backend import LocalBackend

    models = gpu_check.Models(SHARED, tmp_path_factory.mktemp("gpu-check"), [DET, REC])
    models.backends["stand-in"] = LocalBackend(models.zoo, device="cpu")  # another copy of every model
    return models


@pytest.fixture(scope="module")
def inputs():
    photo = cv2.imread(str(data_path("icdar2015_train", "images", "img_1.jpg")))
    words = sorted(data_path("mmocr", "main", "rec_toy_dataset", "imgs").rglob("*.jpg"))[:4]
    return photo, [cv2.imread(str(p)) for p in words]


def test_equal_models_pass(gpu_check, models, inputs):
    rows = gpu_check.parity(models, "stand-in", [DET], [REC], *inputs)
    assert [ok for _, ok, _ in rows] == [True, True], rows


@pytest.mark.parametrize("arch", [DET, REC])
def test_one_changed_weight_fails(gpu_check, models, inputs, arch):
    import torch

    module = models.model(arch, "stand-in").runner.module
    weight = next(p for p in module.parameters() if p.dim() == 4)
    with torch.no_grad():
        weight.mul_(1.001)
    try:
        row = gpu_check.parity(models, "stand-in", [DET] if arch == DET else [], [REC] if arch == REC else [], *inputs)[0]
    finally:
        with torch.no_grad():
            weight.div_(1.001)
    assert row[1] is False and "rel_err" in row[2], row


def test_kie_parity_compares_the_labels_of_a_receipt(gpu_check, models):
    """SDMG-R through the in-process backend answers a KIEResult: compared label by label (this
    row was a TypeError once the results became typed)."""
    name, ok, detail = gpu_check.kie_parity(models, "stand-in", SHARED)
    assert ok is True and detail.endswith("max score diff 0.0e+00"), detail
    done, total = detail.split(" labels")[0].split("/")
    assert done == total and int(total) > 0
