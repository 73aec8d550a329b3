"""`ocrserve train rec`: the zoo's PP-OCR recogniser converted, fine-tuned with CTC, exported and
served by the `ctc` family, on real crops from ../shared/data (skipped without it)."""
from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import data_path, one_torch_thread

import torch

# onnx2torch is a training requirement (requirements-training.txt); its torchvision import is
# handled by service.tooling.training.onnx_torch, so only its presence is checked here
pytestmark = pytest.mark.skipif(importlib.util.find_spec("onnx2torch") is None,
                                reason="onnx2torch not installed (requirements-training.txt)")

BASE = "ppocrv6-small-rec"


def _toy_crops():
    from service.tooling.training.rec.data import read_crops

    return read_crops(data_path("mmocr", "0.x", "ocr_toy_dataset", "label.txt"), "label-txt")


@pytest.fixture(scope="module")
def converted(weights_ready):
    from service.tooling.training.rec.model import convert, load_zoo_recognizer
    from service.tooling.training.rec.train import make_batch

    crops = _toy_crops()
    recognizer, source = load_zoo_recognizer(BASE)
    with one_torch_thread():
        model = convert(recognizer, source, [make_batch(crops, recognizer, None)])
    return model, recognizer, source, crops


def test_conversion_reads_like_the_served_model(converted):
    model, recognizer, _, crops = converted
    with one_torch_thread():
        ours = [r.text for r in model.predictor()([c.image for c in crops])]
    assert ours == [r.text for r in recognizer([c.image for c in crops])]
    assert len(model.classes) + 1 == 18710  # 18,708 characters, the space class, the blank


def test_conversion_check_fails_for_a_wrong_module(converted):
    from service.tooling.training.onnx_torch import ConversionError, check_against_onnx, to_torch
    from service.tooling.training.rec.model import logits_of
    from service.tooling.training.rec.train import make_batch

    _, recognizer, source, crops = converted
    batch = make_batch(crops[:4], recognizer, None)
    module = to_torch(source)
    with one_torch_thread():
        # the check's own bound is 1e-3 (probabilities); 5.3e-4 on an AVX2 AMD EPYC, under 1e-4 elsewhere
        assert check_against_onnx(module, source, [batch]) < 1e-3
        conv = next(m for m in module.modules() if isinstance(m, torch.nn.Conv2d))
        with torch.no_grad():
            conv.weight.mul_(1.05)  # one layer 5 % off
        with pytest.raises(ConversionError, match="differs from onnxruntime"):
            check_against_onnx(module, source, [batch])
    cut = logits_of(module)
    with pytest.raises(ConversionError, match="not a softmax"):
        logits_of(cut)  # the logits graph no longer ends in the softmax


def test_ctc_loss_falls_overfitting_real_crops(converted, tmp_path):
    from service.tooling.training.rec.train import TrainOptions, train

    model, *_ = converted
    model = copy.copy(model)
    model.net = copy.deepcopy(model.net)
    crops = [c for c in _toy_crops() if c.text in ("HOTEL", "ANING", "GRAND", "DAVIDSON")][:4]
    opts = TrainOptions(iterations=12, batch_size=4, lr=1e-3, eval_every=3, augment=False, device="cpu")
    with one_torch_thread():
        history = train(model, crops, opts, dev=crops, out=tmp_path)
    losses = [step.loss for step in history]
    assert losses[-1] < 0.5 * losses[0], losses
    assert history[-1].dev["word_acc"] >= history[0].dev["word_acc"]
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "last.pt").is_file()


def test_export_equals_torch_and_is_small(converted, tmp_path):
    import onnx

    from service.tooling.training.onnx_torch import ConversionError
    from service.tooling.training.rec.model import export_onnx, round_to_fp16, verify_export
    from service.tooling.training.rec.train import make_batch

    model, recognizer, _, crops = converted
    model = copy.copy(model)
    model.net = copy.deepcopy(model.net)
    batches = [make_batch(crops[:5], recognizer, None), make_batch(crops[5:], recognizer, None)]
    with one_torch_thread():
        round_to_fp16(model.net)
        path = export_onnx(model, tmp_path / "rec.onnx")
        assert verify_export(model, path, batches) < 1e-3
        proto = onnx.load(str(path))
        assert path.stat().st_size < 20 * 2**20
        assert {p.key for p in proto.metadata_props} >= {"character"}
        head = max(model.net.parameters(), key=lambda p: p.numel())
        with torch.no_grad():
            head.mul_(1.02)  # the exported file no longer matches this module
        with pytest.raises(ConversionError, match="differs from torch"):
            verify_export(model, path, batches)


def test_cli_end_to_end_output_served_by_the_ctc_family(weights_ready, tmp_path, zoo):
    from handlers.api.spec import ModelSpec
    from handlers.inprocess import load_handler
    from service.tooling.cli import main

    icdar = data_path("mmocr", "0.x", "toy_dataset")
    crops = data_path("mmocr", "0.x", "ocr_toy_dataset", "label.txt")
    out = tmp_path / "run"
    with one_torch_thread():
        code = main(["train", "rec", "--data", str(icdar), "--format", "icdar", "--dev", str(crops),
                     "--dev-format", "label-txt", "--replay", str(crops), "--replay-format", "label-txt",
                     "--replay-limit", "6", "--iterations", "2", "--batch-size", "4", "--eval-every", "2",
                     "--out", str(out)])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["train_crops"] > 20 and report["export"]["max_diff_vs_torch"] < 1e-3
    entry = zoo.get(BASE)
    spec = ModelSpec("tuned", "rec", entry.family, entry.runtime, out / "rec.onnx", entry.config, {})
    handler = load_handler(spec)
    image = next(c.image for c in _toy_crops() if c.text == "PACIFIC")
    assert handler.model([image])[0].text == "PACIFIC"


def test_cli_refuses_bad_arguments(tmp_path, capsys):
    from service.tooling.cli import main

    assert main(["train", "rec", "--data", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", "rec", "--data", str(tmp_path), "--format", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown format" in capsys.readouterr().err


def test_committed_fine_tuned_zoo_model_reads_a_real_crop(weights_ready, zoo):
    """model_store/weights/ppocrv6-small-rec-ic15 (trained by `ocrserve train rec`) loads as a zoo
    model of the `ctc` family, with the base model's config and classes."""
    from service.tooling.local_backend import LocalBackend

    backend = LocalBackend(zoo)
    tuned = backend.handler("ppocrv6-small-rec-ic15").model
    assert tuned.classes == backend.handler(BASE).model.classes
    image = next(c.image for c in _toy_crops() if c.text == "PACIFIC")
    with one_torch_thread():
        assert tuned([image])[0].text == "PACIFIC"
