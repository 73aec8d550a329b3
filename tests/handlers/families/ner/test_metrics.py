"""Entity-level P/R/F1."""
from __future__ import annotations

import pytest

from service.tooling.evaluation.ner_metrics import entity_prf


def test_exact_matches_only():
    gold = [[("name", 0, 2), ("address", 5, 7)], [("company", 1, 4)]]
    pred = [[("name", 0, 2), ("address", 5, 6)], [("company", 1, 4), ("name", 8, 9)]]
    r = entity_prf(gold, pred)
    assert (r.true_positives, r.predicted, r.gold) == (2, 4, 3)
    assert r.precision == pytest.approx(0.5) and r.recall == pytest.approx(2 / 3)
    assert r.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert r.per_type["address"].f1 == 0.0 and r.per_type["company"].f1 == 1.0
    assert r.per_type["name"].precision == pytest.approx(0.5)


def test_empty_and_mismatched_lengths():
    assert entity_prf([[]], [[]]).f1 == 0.0
    with pytest.raises(ValueError):
        entity_prf([[]], [[], []])
