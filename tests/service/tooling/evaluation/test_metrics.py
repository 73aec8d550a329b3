"""Metrics against MMOCR 1.0.1 reference outputs, plus handmade ICDAR 2015 word-spotting cases."""

import json
import math

import pytest

from service.tooling.evaluation.metrics import (
    DEFAULT_SCORE_THRS,
    DetSample,
    E2ESample,
    hmean_iou,
    recognition_metrics,
    word_spotting,
)
from tests.oracle import ORACLE

THR_SETTINGS = {"default": DEFAULT_SCORE_THRS, "fixed0.5": (0.5,)}


def _oracle_params(file_name: str, expand) -> list:
    """pytest params for every case of an oracle file, or one skipped param if it is absent."""
    path = ORACLE / "cases" / file_name
    if not path.is_file():
        reason = f"MMOCR oracle cases not found at {path} (../shared beside the repo)"
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=reason), id="oracle-missing")]
    return [param for case in json.loads(path.read_text())["cases"] for param in expand(case)]


def _hmean_params(case: dict) -> list:
    return [pytest.param(case, key, id=f"case{case['id']}-{key}") for key in case["results"]]


def _recog_params(case: dict) -> list:
    return [pytest.param(case, None, id=f"case{case['id']}")]


def test_default_thresholds_reproduce_np_arange_artefact():
    assert len(DEFAULT_SCORE_THRS) == 7
    assert DEFAULT_SCORE_THRS[0] == pytest.approx(0.3) and DEFAULT_SCORE_THRS[-1] == pytest.approx(0.9)


@pytest.mark.parametrize("case, key", _oracle_params("hmean_iou_cases.json", _hmean_params))
def test_hmean_iou_matches_mmocr(case, key):
    strategy, thr_setting = key.split("/")
    images = [DetSample(**image) for image in case["images"]]
    got = hmean_iou(images, THR_SETTINGS[thr_setting], strategy)
    for name, expected in case["results"][key].items():
        assert math.isclose(got[name], expected, rel_tol=1e-12, abs_tol=1e-12), name


@pytest.mark.parametrize("case, _", _oracle_params("recog_metric_cases.json", _recog_params))
def test_recognition_metrics_match_mmocr(case, _):
    preds = [pair["pred"] for pair in case["pairs"]]
    gts = [pair["gt"] for pair in case["pairs"]]
    expected = {name: value for metric in case["results"].values() for name, value in metric.items()}
    assert recognition_metrics(preds, gts) == expected


def _box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def test_hmean_iou_needs_iou_strictly_above_threshold():
    # IoU exactly 0.5 is not a match in MMOCR (iou > match_iou_thr)
    sample = DetSample([_box(0, 0, 100, 10)], [False], [_box(0, 0, 50, 10)], [1.0])
    assert hmean_iou([sample], (0.5,))["recall"] == 0.0


def test_hmean_iou_keeps_float32_score_at_float64_threshold():
    # MMOCR compared float32 scores in float32: 0.9 passes the 0.9000000000000001 threshold
    sample = DetSample([_box(0, 0, 100, 10)], [False], [_box(0, 0, 100, 10)], [0.9])
    result = hmean_iou([sample], (0.9000000000000001,))
    assert result["hmean"] == 1.0


def test_hmean_iou_reports_first_best_threshold():
    preds = [_box(0, 0, 100, 10), _box(200, 0, 300, 10)]
    sample = DetSample([_box(0, 0, 100, 10)], [False], preds, [0.9, 0.4])
    result = hmean_iou([sample], (0.3, 0.5, 0.7))
    assert result["best_thr"] == 0.5 and result["precision"] == 1.0
    assert [r["hmean"] for r in result["per_thr"]] == pytest.approx([2 / 3, 1.0, 1.0])


def test_hmean_iou_rejects_unknown_strategy():
    with pytest.raises(ValueError, match="strategy"):
        hmean_iou([], strategy="hungarian")


def _spot(gt_texts, preds, gt_boxes=None, ignored=None) -> dict:
    gt_boxes = [_box(0, 0, 100, 10)] if gt_boxes is None else gt_boxes
    ignored = [t == "###" for t in gt_texts] if ignored is None else ignored
    sample = E2ESample(gt_boxes, gt_texts, ignored, [box for box, _ in preds], [text for _, text in preds])
    return word_spotting([sample])


def test_word_spotting_exact_match():
    result = _spot(["Hello"], [(_box(0, 0, 100, 10), "Hello")])
    assert (result["precision"], result["recall"], result["hmean"]) == (1.0, 1.0, 1.0)


def test_word_spotting_ignores_case():
    assert _spot(["Hello"], [(_box(0, 0, 100, 10), "hELLO")])["hmean"] == 1.0


def test_word_spotting_symbol_variant():
    result = _spot(["it's"], [(_box(0, 0, 100, 10), "ITS")])
    assert result["hmean"] == 0.0 and result["hmean_ignore_symbol"] == 1.0


def test_word_spotting_iou_just_below_half_is_a_miss():
    below = _spot(["Hello"], [(_box(0, 0, 49.9, 10), "Hello")])  # IoU 0.499
    above = _spot(["Hello"], [(_box(0, 0, 50.1, 10), "Hello")])  # IoU 0.501
    assert (below["precision"], below["recall"]) == (0.0, 0.0)
    assert above["hmean"] == 1.0


def test_word_spotting_drops_predictions_inside_ignored_regions():
    gt_boxes = [_box(0, 0, 100, 10), _box(0, 50, 100, 60)]
    preds = [(_box(0, 0, 100, 10), "Hello"), (_box(0, 50, 100, 60), "blurred")]
    result = _spot(["Hello", "###"], preds, gt_boxes)
    assert result["pred_num"] == 1 and result["gt_num"] == 1
    assert result["hmean"] == 1.0


def test_word_spotting_wrong_text_still_consumes_the_gt():
    # ICDAR 2015 pairs by geometry first: the later, correctly read duplicate is a false positive
    preds = [(_box(0, 0, 100, 10), "Hellp"), (_box(0, 0, 99, 10), "Hello")]
    result = _spot(["Hello"], preds)
    assert (result["precision"], result["recall"]) == (0.0, 0.0)


def test_word_spotting_empty_dataset_follows_mmocr_convention():
    result = _spot([], [], gt_boxes=[])
    assert (result["precision"], result["recall"]) == (1.0, 1.0)
