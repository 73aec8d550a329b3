"""ONNX export of the MMOCR recognisers: every family exports and matches torch on real crops.

CRNN and SVTR run at full size with the oracle's weights. The attention families are exported
with their decoding loop cut to STEPS steps (the unrolled graph grows with every step, and a
full-length export of the big ones takes minutes on CI) and constructor weights; the figures at
full length are in docs/onnx-export-rec.md.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from handlers.families.mmocr_rec import available, build_model, config_of
from service.tooling.export.rec_onnx import (ProbsGraph, dynamic_width, export_model,
                                                     export_onnx, verify_model, verify_onnx)
from handlers.predictors.mmocr_rec import OrtProbs
from tests.conftest import data_path
from tests.oracle import save_checkpoint

CTC = ["crnn_mini-vgg_5e_mj", "svtr-small_20e_st_mj"]  # full size, oracle weights
STEPS = 2
ABS_TOL = 1e-4


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def crops() -> list[np.ndarray]:
    """Real word crops of different widths (GRAND, PACIFIC, 03/09/2009, america); the short
    models read the first two."""
    folder = data_path("mmocr", "0.x", "ocr_toy_dataset", "imgs")
    return [cv2.imread(str(folder / f"{name}.jpg")) for name in ("1223731", "1223729", "1036169", "1058892")]


def short_model(arch: str) -> torch.nn.Module:
    """The config's network (seed-0 weights); a decoding loop runs only STEPS steps."""
    torch.manual_seed(0)
    model = build_model(arch).eval()
    for module in model.modules():
        if hasattr(module, "max_seq_len"):
            module.max_seq_len = STEPS
    return model


def decodes_in_steps(model: torch.nn.Module) -> bool:
    return any(hasattr(module, "max_seq_len") for module in model.modules())


@pytest.mark.parametrize("arch", CTC)
def test_ctc_checkpoint_exports_and_matches_torch(arch, crops, tmp_path):
    checkpoint = save_checkpoint(arch, tmp_path / "model.pth")
    info = export_onnx(arch, checkpoint, tmp_path / "model.onnx")
    assert info["inputs"] == ["image"] and info["dynamic_axes"]["image"][0] == "batch"
    report = verify_onnx(arch, checkpoint, tmp_path / "model.onnx", crops)
    assert report["crops"] == 4 and report["max_abs_error"] < ABS_TOL
    assert report["texts_match"] and all(report["onnx_texts"])
    if not dynamic_width(arch):  # dynamic batch: batch 3 gives the rows of three batches of 1
        spec = config_of(arch)["input"]
        batch = np.random.default_rng(0).standard_normal(
            (3, spec["channels"], spec["height"], spec["width"])).astype(np.float32)
        session = OrtProbs(tmp_path / "model.onnx")
        together = session(batch, [1.0] * 3)
        alone = np.concatenate([session(batch[i:i + 1], [1.0]) for i in range(3)])
        np.testing.assert_allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize("arch", [a for a in available() if a not in CTC])
def test_family_exports_and_matches_torch(arch, crops, tmp_path):
    model = short_model(arch)
    info = export_model(model, arch, tmp_path / "model.onnx")
    if decodes_in_steps(model):
        assert info["steps"] == STEPS
    assert ("valid_ratio" in info["inputs"]) == ProbsGraph(model).uses_valid_ratio
    report = verify_model(model, arch, tmp_path / "model.onnx", crops[:2])
    assert report["max_abs_error"] < ABS_TOL and report["texts_match"], report


def test_dynamic_batch_and_width_crnn(tmp_path):
    arch = "crnn_mini-vgg_5e_mj"
    model = short_model(arch)
    export_model(model, arch, tmp_path / "crnn.onnx")
    session = OrtProbs(tmp_path / "crnn.onnx")
    for width in (32, 96, 256):
        batch = np.random.default_rng(width).standard_normal((3, 1, 32, width)).astype(np.float32)
        together = session(batch, [1.0] * 3)
        alone = np.concatenate([session(batch[i:i + 1], [1.0]) for i in range(3)])
        with torch.no_grad():
            ref = model(torch.from_numpy(batch)).numpy()
        assert together.shape == ref.shape == (3, width // 4 + 1, 37)
        np.testing.assert_allclose(together, alone, atol=1e-6)
        np.testing.assert_allclose(together, ref, atol=ABS_TOL)


def test_verify_refuses_no_images(tmp_path):
    with pytest.raises(ValueError, match="at least one image"):
        verify_model(short_model("crnn_mini-vgg_5e_mj"), "crnn_mini-vgg_5e_mj", tmp_path / "x.onnx", [])


def test_unknown_arch_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown MMOCR recogniser config .*known: .*crnn_mini-vgg_5e_mj"):
        export_onnx("no_such_recogniser", None, tmp_path / "x.onnx")
