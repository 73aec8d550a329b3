"""A user's MMOCR recogniser checkpoint served through the recognition handler (torch runtime)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from handlers.families.mmocr_rec import config_of
from handlers.families.mmocr_recognizer import preprocess
from tests.conftest import SHARED, FakeContext, data_path
from tests.unit.handlers.checkpoints import oracle_checkpoint, served

ORACLE = SHARED / "oracle"
PREPROC_CONFIGS = ["crnn_mini-vgg_5e_mj", "satrn_shallow-small_5e_st_mj", "svtr-small_20e_st_mj",
                   "nrtr_resnet31-1by16-1by8_6e_st_mj", "sar_resnet31_parallel-decoder_5e_st-sub_mj-sub_sa_real"]


@pytest.fixture(scope="module")
def oracle():
    if not ORACLE.is_dir():
        pytest.skip(f"MMOCR oracle not available at {ORACLE}")
    return ORACLE


@pytest.mark.parametrize("arch", PREPROC_CONFIGS)
def test_preprocessing_matches_mmocr_test_pipeline(oracle, arch):
    case = json.loads((oracle / "preproc" / "preproc_cases.json").read_text())["results"][arch]
    expected = torch.load(oracle / "preproc" / "preproc.pt")[arch][0].numpy()
    source = cv2.imread(str(oracle / "preproc" / case["source"]), cv2.IMREAD_COLOR)
    tensor, valid_ratio = preprocess(source, config_of(arch)["input"])
    assert tensor.shape == expected.shape
    diff = np.abs(tensor - expected)
    if config_of(arch)["input"].get("color") == "grayscale":
        # libpng's grayscale differs from ours by one level on a few pixels (0.25% here)
        assert diff.max() <= 1 / 127 + 1e-6 and (diff > 1e-5).mean() < 0.01
    else:
        assert diff.max() < 1e-5
    assert valid_ratio == pytest.approx(case["metainfo_after_pipeline"]["valid_ratio"])


def test_crnn_checkpoint_archive_reads_crops_in_batches(oracle, tmp_path):
    arch = "crnn_mini-vgg_5e_mj"
    handler = served("myrec", arch, oracle_checkpoint(arch, tmp_path / "crnn.pth"), tmp_path)
    crops = [p.read_bytes() for p in sorted(data_path("mmocr", "0.x", "ocr_toy_dataset", "imgs").glob("*.jpg"))]
    ctx = FakeContext(tmp_path)
    together = [json.loads(o) for o in handler.handle([{"body": c} for c in crops], ctx)]
    alone = [json.loads(handler.handle([{"body": c}], FakeContext(tmp_path))[0]) for c in crops]
    assert ctx.status == {} and together == alone
    assert all(set(r) == {"text", "score"} and 0 <= r["score"] <= 1 for r in together)
