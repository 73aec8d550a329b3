"""TextSnake (resnet50, FPN-UNet) vs the MMOCR 1.0.1 oracle (shared/oracle).

Achieved on torch 2.13 CPU, one thread: the (1, 5, 640, 640) head output is
bit-identical (max relative error 0). The oracle's prediction has no polygon (random
weights: every predicted radius is < 1, so no disk is drawn); textsnake_postprocess
gives none either. That does not exercise the skeleton / disk steps, so those are
checked on constructed maps below, not against MMOCR (the thinning is scikit-image's
``skeletonize``, the function MMOCR calls).
"""
from __future__ import annotations

import numpy as np
import pytest

from handlers.families.mmocr import MODEL_BUILDERS, build_model
from handlers.families.mmocr.textsnake import build_textsnake, textsnake_params_kwargs
from handlers.ops.textsnake_postprocess import center_line, merge_disks, textsnake_postprocess
from tests.oracle import assert_parity, compare, expected_shapes, run_oracle, served_checks

NAME = "textsnake_resnet50_fpn-unet_1200e_ctw1500"


@pytest.fixture(scope="module")
def run():
    return run_oracle(NAME, build_textsnake(NAME))


def test_registry_and_state_dict_names():
    assert NAME in MODEL_BUILDERS
    ours = {k: tuple(v.shape) for k, v in build_model(NAME).state_dict().items()}
    assert ours == expected_shapes(NAME)
    with pytest.raises(ValueError, match="unknown TextSnake config"):
        build_textsnake("textsnake_typo")


def test_raw_maps_match_oracle(run):
    ref = run["outputs"]["raw"]
    assert run["raw"].shape == ref.shape == (1, 5, 640, 640)
    assert_parity(compare("raw", run["raw"], ref))  # achieved: 0.0 to 1.2e-6


def test_served_build_matches_oracle(run):
    """The served network (BatchNorm folded) stays within the shared allowance of the oracle."""
    assert_parity(*served_checks(run, run["outputs"]["raw"]))

def test_postprocess_matches_oracle_prediction(run):
    polygons, scores = textsnake_postprocess(run["raw"][0].numpy(),
                                             **textsnake_params_kwargs(NAME))
    pred = run["outputs"]["pred"]
    assert len(pred["polygons"]) == len(polygons) == len(scores) == 0


def _bar_maps(sin: float, cos: float) -> np.ndarray:
    m = np.zeros((5, 64, 128), np.float32)
    m[0] = m[1] = -10
    m[0, 20:45, 10:110] = 10  # text region
    m[1, 28:37, 16:104] = 10  # center region
    m[2], m[3], m[4] = sin, cos, 12.0
    return m


def test_constructed_horizontal_bar():
    polygons, scores = textsnake_postprocess(_bar_maps(0.0, 1.0))
    # the end disks overhang the text region (x 10..109) by 3 px: score ~0.98, not 1
    assert len(polygons) == 1 and scores[0] > 0.97
    lo, hi = polygons[0].min(0), polygons[0].max(0)
    # Disks of radius int(12 * 1.03) = 12 around y = 32; the center line of the 9 px high
    # center region (x 16..103) stops 3 px short of each end, x 19..100 (the hand-written
    # Zhang-Suen this replaced stopped at 20 and 98, giving x 8..110).
    assert lo.tolist() == [7.0, 20.0] and hi.tolist() == [112.0, 44.0]
    with pytest.raises(ValueError):
        textsnake_postprocess(_bar_maps(0.0, 1.0), text_repr_type="quad")


def test_thinning_and_disk_merge():
    rect = np.zeros((11, 30), np.uint8)
    rect[3:8, 2:28] = 1
    skel = np.zeros(rect.shape, bool)
    skel[tuple(center_line(rect).T)] = True
    assert skel.sum() > 0 and skel.sum(axis=0).max() == 1  # one pixel thick
    assert not skel[:3].any() and not skel[8:].any()
    assert skel[5].sum() >= 20 and skel.sum() - skel[5].sum() <= 4  # the middle row, ends aside
    disks = np.array([[10.0, 10.0, 5.0, 0.9], [10.2, 10.0, 5.0, 0.5], [40.0, 10.0, 5.0, 0.7]])
    merged = merge_disks(disks, 0.03)
    assert merged.shape == (2, 4) and merged[0].tolist() == [10.1, 10.0, 5.0, 0.7]
