"""PANet (resnet18, FPEM-FFM) vs the MMOCR 1.0.1 oracle (shared/oracle).

Achieved on torch 2.13 CPU, one thread: raw head logits bit-identical (max relative
error 0); pan_postprocess gives the oracle's 6 quads (same vertices up to the start
corner, < 1e-4 px) and scores (< 1e-6).
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

from handlers.families.mmocr import MODEL_BUILDERS, build_model
from handlers.families.mmocr.panet import DEFAULT_CFGS, build_panet, pan_params_kwargs
from handlers.ops.pan_postprocess import pan_postprocess, points_to_boundary
from tests.oracle import (assert_parity, check_prediction, compare, det_input, expected_shapes,
                          mismatches, one_thread, run_oracle, served_checks, swap_weights)

NAME = "panet_resnet18_fpem-ffm_600e_icdar2015"


@pytest.fixture(scope="module")
def run():
    return run_oracle(NAME, build_panet(NAME))


def test_registry_and_state_dict_names():
    assert NAME in MODEL_BUILDERS
    ours = {k: tuple(v.shape) for k, v in build_model(NAME).state_dict().items()}
    assert ours == expected_shapes(NAME)
    with pytest.raises(ValueError, match="unknown PANet config"):
        build_panet("panet_resnet18_typo")


def test_raw_logits_match_oracle(run):
    ref = run["outputs"]["raw"]
    assert run["raw"].shape == ref.shape == (1, 6, 160, 160)
    assert_parity(compare("raw", run["raw"], ref))  # achieved: 0.0 to 2.3e-5


def test_served_build_matches_oracle(run):
    """The served network (BatchNorm folded) stays within the shared allowance of the oracle."""
    assert_parity(*served_checks(run, run["outputs"]["raw"]))

def test_swapped_weight_fails(run):
    """Two FPEM up-scale stages' pointwise weights exchanged: the logits leave the allowance."""
    model = copy.deepcopy(run["model"])
    swap_weights(model, "neck.fpems.0.up_add1.pointwise_conv.weight", "neck.fpems.0.up_add2.pointwise_conv.weight")
    assert mismatches([compare("raw", one_thread(model, det_input()), run["outputs"]["raw"])])

def test_postprocess_matches_oracle_prediction(run):
    assert DEFAULT_CFGS[NAME]["postprocessor"]["text_repr_type"] == "quad"
    polygons, scores = pan_postprocess(run["raw"][0].numpy(), **pan_params_kwargs(NAME))
    pred = run["outputs"]["pred"]
    assert len(pred["polygons"]) == 6
    check_prediction(polygons, scores, pred)


def test_poly_boundary_and_bad_input():
    pts = np.array([[x, y] for y in range(3, 8) for x in range(2, 12)], dtype=np.int32)
    b = np.asarray(points_to_boundary(pts, "poly")).reshape(-1, 2)
    assert {tuple(p) for p in b.tolist()} == {(2, 3), (11, 3), (11, 7), (2, 7)}
    with pytest.raises(ValueError):
        pan_postprocess(np.zeros((2, 4, 4), np.float32))
