"""KIE F1 (service.tooling.evaluation.kie_metrics) vs MMOCR 1.0.1's F1Metric on the oracle cases."""
from __future__ import annotations

import json

import pytest

from service.tooling.evaluation.kie_metrics import WILDRECEIPT_IGNORED_CLASSES, cared_labels, kie_f1
from tests.oracle import oracle_file


def _cases():
    return json.loads(oracle_file("cases", "kie_f1_cases.json").read_text())["cases"]


def test_every_oracle_case_every_setting():
    checked = 0
    for case in _cases():
        preds = [img["pred_labels"] for img in case["images"]]
        gts = [img["gt_labels"] for img in case["images"]]
        for name, setting in case["settings"].items():
            got = kie_f1(preds, gts, **setting)
            want = case["results"][name]
            assert got.keys() == want.keys(), (case["id"], name)
            for key, value in want.items():
                assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-7), (case["id"], name, key)
            checked += 1
    assert checked == 30


def test_wildreceipt_setting_cares_about_odd_classes_below_25():
    assert cared_labels(26, ignored_classes=WILDRECEIPT_IGNORED_CLASSES) == list(range(1, 25, 2))


def test_hand_computed_and_errors():
    # class 1: tp 1, fn 1 -> F1 2/3; class 2: fp 1 -> 0; micro: tp 1 fp 1 fn 1 -> 0.5
    res = kie_f1([[1, 2]], [[1, 1]], num_classes=3, mode=["macro", "micro"], cared_classes=[1, 2])
    assert res["macro_f1"] == pytest.approx((2 / 3 + 0) / 2)
    assert res["micro_f1"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        kie_f1([[1]], [[1]], num_classes=3, mode="weighted")
    with pytest.raises(ValueError):
        kie_f1([[1]], [[1]], num_classes=3, cared_classes=[1], ignored_classes=[2])
    with pytest.raises(ValueError):
        kie_f1([[1, 2]], [[1]], num_classes=3)
