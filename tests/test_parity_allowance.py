"""The shared parity allowance of tests/oracle.py: the rule itself (no oracle data needed)."""
from __future__ import annotations

import pytest
import torch

from tests.oracle import FACTOR, FLOOR, allowance, compare, mismatches, swap_weights


def test_allowance_is_factor_times_own_error_between_floor_and_cap():
    assert allowance(None) == FLOOR  # no float64 run: the floor
    assert allowance(1e-7) == FLOOR
    assert allowance(1e-4, cap=1e-3) == pytest.approx(FACTOR * 1e-4)
    assert allowance(0.0184, cap=5e-3) == 5e-3  # ASTER: the cap, not 5.5e-2
    assert allowance(1e-3) == FLOOR  # the default cap is the floor
    with pytest.raises(ValueError, match="cap"):
        allowance(1e-3, cap=1e-5)


def test_compare_measures_relative_to_the_reference_magnitude():
    ref = torch.tensor([10.0, -20.0, 0.0])
    exact = ref.double() + 1e-4  # our float64 run: own error 5e-6 of the magnitude
    ok = compare("t", ref + torch.tensor([0.0, 0.0, 1e-3]), ref, exact)
    assert ok.ok and ok.error == pytest.approx(5e-5, rel=1e-3) and ok.allowed == FLOOR
    # a change our float64 "run" does not share: the cap bounds what FACTOR x own would allow
    bad = compare("t", ref + torch.tensor([0.0, 0.0, 0.1]), ref, exact, cap=1e-3)
    assert not bad.ok and bad.allowed == 1e-3 and "t: 0.005 off the oracle" in str(bad)
    shape = compare("s", torch.zeros(2), torch.zeros(3))
    assert mismatches([ok, bad, shape]) == [bad, shape]


def test_swap_weights_refuses_a_swap_that_changes_nothing():
    layer = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    before = layer[0].weight.detach().clone()
    swap_weights(layer, "0.weight", "1.weight")
    assert torch.equal(layer[1].weight, before)
    with pytest.raises(ValueError):
        swap_weights(layer, "0.weight", "0.bias")
