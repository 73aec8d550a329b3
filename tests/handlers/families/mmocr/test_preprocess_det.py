"""Test-time preprocessing of every served MMOCR detector vs the real MMOCR 1.0.1 pipeline.

The oracle pushed one synthetic 300x420 BGR image through each config's test_pipeline and
data_preprocessor (shared/oracle/preproc): we must give the same resized image, scale factor,
padded tensor shape and normalised values.
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from handlers.predictors.mmocr_det import (
    MMOCRDetConfig,
    keep_ratio_size,
    preprocess,
    short_side_size,
    supported_configs,
    target_size,
)
from tests.oracle import ORACLE

DET_PREFIXES = ("dbnet", "panet", "psenet", "fcenet", "textsnake", "drrg")


def _cases() -> dict:
    path = ORACLE / "preproc" / "preproc_cases.json"
    if not path.is_file():
        pytest.skip(f"MMOCR oracle not available at {path}")
    results = json.loads(path.read_text())["results"]
    return {name: results[case["same_as"]] if "same_as" in case else case for name, case in results.items()}


def _oracle_det_configs() -> list[str]:
    """The detector configs of the oracle's preproc cases that the serving family supports."""
    return [name for name in supported_configs() if name.startswith(DET_PREFIXES)
            and "dcnv2" not in name]  # the DCNv2 config has no oracle case (same pipeline as DBNet++)


@pytest.mark.parametrize("arch", _oracle_det_configs())
def test_preprocessing_matches_mmocr(arch):
    case = _cases()[arch]
    source = cv2.imread(str(ORACLE / "preproc" / case["source"]), cv2.IMREAD_COLOR)
    cfg = MMOCRDetConfig.from_dict({"arch": arch})
    meta = case["metainfo_after_pipeline"]
    assert list(target_size(*source.shape[:2], cfg)) == meta["img_shape"]
    # the pipeline's uint8 output (mmcv's bilinear resize) is reproduced pixel for pixel
    expected_img = cv2.imread(str(ORACLE / "preproc" / case["pipeline_output_png"]), cv2.IMREAD_COLOR)
    new_h, new_w = meta["img_shape"]
    assert np.array_equal(cv2.resize(source, (new_w, new_h), interpolation=cv2.INTER_LINEAR), expected_img)
    tensor, scale = preprocess(source, cfg)
    stats = case["normalised_input"]
    assert list(tensor.shape) == stats["shape"]
    assert scale == pytest.approx(tuple(meta["scale_factor"]), rel=1e-12)
    assert float(tensor.mean()) == pytest.approx(stats["mean"], abs=1e-5)
    assert float(tensor.std()) == pytest.approx(stats["std"], abs=1e-5)
    assert (float(tensor.min()), float(tensor.max())) == pytest.approx((stats["min"], stats["max"]), abs=1e-6)
    assert float(tensor.sum(dtype=np.float64)) == pytest.approx(stats["sum"], rel=1e-6)
    assert np.allclose(tensor.reshape(-1)[:: stats["sample_stride"]], stats["sample"], atol=1e-5)


def test_every_served_config_has_a_known_resize_rule():
    for arch in supported_configs():
        cfg = MMOCRDetConfig.from_dict({"arch": arch})
        h, w = target_size(720, 1280, cfg)
        assert h > 0 and w > 0 and cfg.pad_divisor == 32


def test_keep_ratio_resize_fits_both_edge_limits():
    assert keep_ratio_size(720, 1280, (1333, 736)) == (736, 1308)  # short edge binds
    assert keep_ratio_size(30, 700, (2240, 2240)) == (96, 2240)  # long edge binds
    assert keep_ratio_size(100, 50, (1333, 736)) == (1333, 667)  # portrait: 666.5 rounds half up
    assert keep_ratio_size(100, 50, (640, 320), keep_ratio=False) == (320, 640)


def test_short_side_rule_rounds_then_rounds_up_to_the_divisor():
    assert short_side_size(300, 420, 736) == (736, 1030)  # 420 * 736 / 300 = 1030.4
    assert short_side_size(720, 1280, 736) == (736, 1308)  # 1308.44 -> 1308
    assert short_side_size(300, 420, 736, scale_divisor=32) == (736, 1056)
    assert short_side_size(1000, 250, 736) == (2944, 736)  # the short side may be the width
    assert short_side_size(2, 3, 5) == (5, 8)  # 7.5 -> 8: Python's round, half to even


def test_unknown_config_is_refused_with_the_supported_list():
    with pytest.raises(ValueError, match="unknown MMOCR detector config 'nosuch'.*panet_resnet18"):
        MMOCRDetConfig.from_dict({"arch": "nosuch"})
