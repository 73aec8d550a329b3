"""Tests for handlers.ops.db_postprocess: MMOCR oracle cases, pinned shapes, random maps."""

from __future__ import annotations

import json
from functools import lru_cache

import cv2
import numpy as np
import pytest

from handlers.ops.db_postprocess import DBParams, db_postprocess, legacy_fill_mask, polygon_mean
from tests.oracle import ORACLE

DB_CASES = ORACLE / "cases" / "db_postprocessor_cases.json"


@lru_cache(maxsize=1)
def _oracle_cases() -> list[dict]:
    return json.loads(DB_CASES.read_text())["cases"]


def _cyclic_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Max vertex distance after the best cyclic shift / reversal of b (inf if sizes differ)."""
    if a.shape != b.shape:
        return float("inf")
    candidates = [np.roll(v, k, axis=0) for v in (b, b[::-1]) for k in range(len(b))]
    return min(float(np.abs(a - c).max()) for c in candidates)


def _signed_area(pts: np.ndarray) -> float:
    x, y = pts[:, 0].astype(np.float64), pts[:, 1].astype(np.float64)
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _blob_map(shape, rects, value=0.9, background=0.05) -> np.ndarray:
    """A probability map with filled (x0, y0, x1, y1) rectangles."""
    prob = np.full(shape, background, dtype=np.float32)
    for x0, y0, x1, y1 in rects:
        prob[y0 : y1 + 1, x0 : x1 + 1] = value
    return prob


# --------------------------------------------------------------------------- oracle


@pytest.mark.parametrize("case_id", range(12))
def test_matches_mmocr_oracle(case_id):
    if not DB_CASES.exists():
        pytest.skip(f"MMOCR oracle not available at {DB_CASES.resolve()}")
    case = _oracle_cases()[case_id]
    prob = np.asarray(case["prob_map"], dtype=np.float32)
    assert prob.shape == tuple(case["prob_map_shape"])
    params = DBParams(**case["config"])
    polys, scores = db_postprocess(prob, params, tuple(case["scale_factor"]))

    expected = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in case["polygons"]]
    assert len(polys) == len(expected) == len(case["scores"])
    unmatched = list(range(len(polys)))
    for poly, score in zip(expected, case["scores"]):
        match = next(
            (
                j
                for j in unmatched
                if _cyclic_distance(poly, polys[j].astype(np.float64)) <= 1.0
                and abs(scores[j] - score) <= 1e-4
            ),
            None,
        )
        assert match is not None, f"no match for oracle polygon {poly.tolist()} score {score}"
        unmatched.remove(match)


def test_oracle_quads_are_ordered_clockwise_from_top_left():
    if not DB_CASES.exists():
        pytest.skip(f"MMOCR oracle not available at {DB_CASES.resolve()}")
    case = _oracle_cases()[2]
    polys, _ = db_postprocess(np.asarray(case["prob_map"], np.float32), DBParams(**case["config"]))
    for quad in polys:
        assert quad.shape == (4, 2) and quad.dtype == np.float32
        assert _signed_area(quad) > 0  # clockwise on screen
        top = quad[1] - quad[0]
        assert abs(np.degrees(np.arctan2(top[1], top[0]))) <= 45.0 + 1e-3


# ------------------------------------------------------------------ rasteriser

# Masks drawn by cv2.fillPoly of OpenCV 4.8 (the rasteriser MMOCR 1.0.1 ran on).
LEGACY_MASKS = [
    ([[0, 1], [1, 5], [53, 4], [52, 0]], [
        "...........................##########################.",
        "#####################################################.",
        "######################################################",
        "######################################################",
        ".#####################################################",
        ".###########################..........................",
    ]),
    ([[1, 0], [11, 1], [10, 7], [0, 6]], [
        ".######.....",
        ".###########",
        ".###########",
        "############",
        "############",
        "###########.",
        "###########.",
        "......#####.",
    ]),
    ([[0, 0], [9, 3], [3, 8]], [
        "##........",
        "#####.....",
        ".#######..",
        ".#########",
        ".########.",
        "..######..",
        "..#####...",
        "...##.....",
        "...#......",
    ]),
    ([[0, 0], [12, 0], [12, 9], [8, 9], [6, 3], [4, 9], [0, 9]], [
        "#############",
        "#############",
        "#############",
        "#############",
        "#############",
        "######.######",
        "######.######",
        "######.######",
        "#####...#####",
        "#####...#####",
    ]),
]


@pytest.mark.parametrize("points, rows", LEGACY_MASKS)
def test_legacy_fill_mask_matches_opencv_4_8(points, rows):
    expected = np.array([[c == "#" for c in row] for row in rows])
    mask = legacy_fill_mask(np.array(points), expected.shape)
    assert mask.tolist() == expected.tolist()


def test_legacy_fill_mask_agrees_with_cv2_on_axis_aligned_rectangles():
    rng = np.random.default_rng(3)
    for _ in range(50):
        x0, y0 = rng.integers(0, 20, 2)
        x1, y1 = x0 + rng.integers(0, 20), y0 + rng.integers(0, 20)
        pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.int32)
        ref = np.zeros((45, 45), np.uint8)
        cv2.fillPoly(ref, [pts], 1)
        assert np.array_equal(legacy_fill_mask(pts, (45, 45)), ref.astype(bool))


def test_polygon_mean_of_whole_map_is_the_mean():
    prob = np.random.default_rng(0).random((10, 20), dtype=np.float32)
    corners = np.array([[0, 0], [19, 0], [19, 9], [0, 9]])
    assert polygon_mean(prob, corners) == pytest.approx(float(prob.mean()), abs=1e-6)


# --------------------------------------------------------------- pinned cases


def test_empty_map_gives_nothing():
    assert db_postprocess(np.zeros((32, 48), np.float32), DBParams()) == ([], [])


def test_all_ones_map_gives_one_box_covering_the_map():
    polys, scores = db_postprocess(np.ones((40, 100), np.float32), DBParams())
    assert len(polys) == 1 and scores == [pytest.approx(1.0)]
    quad = polys[0]
    assert quad[:, 0].min() < 0 and quad[:, 0].max() > 99  # unclip grows past the map
    clipped, _ = db_postprocess(np.ones((40, 100), np.float32), DBParams(), image_size=(100, 40))
    assert np.allclose(clipped[0], [[0, 0], [99, 0], [99, 39], [0, 39]])


def test_rotated_rectangle_blob():
    prob = np.full((120, 160), 0.02, np.float32)
    rect = ((80.0, 60.0), (90.0, 20.0), 30.0)
    cv2.fillPoly(prob, [np.round(cv2.boxPoints(rect)).astype(np.int32)], 0.9)
    polys, scores = db_postprocess(prob, DBParams())
    assert len(polys) == 1 and scores[0] > 0.85
    quad = polys[0]
    top = quad[1] - quad[0]
    assert np.degrees(np.arctan2(top[1], top[0])) == pytest.approx(30.0, abs=3.0)
    assert quad[0, 0] < quad[1, 0] and quad[3, 1] > quad[0, 1]  # TL left of TR, BL below TL
    (cx, cy), (w, h), _ = cv2.minAreaRect(quad)
    assert (cx, cy) == pytest.approx((80.0, 60.0), abs=1.5)
    assert max(w, h) > 90 and min(w, h) > 20  # unclipped beyond the shrunk blob


def test_separated_blobs_stay_apart_touching_blobs_merge():
    apart = _blob_map((40, 80), [(5, 10, 34, 25), (36, 10, 70, 25)])
    assert len(db_postprocess(apart, DBParams())[0]) == 2
    touching = _blob_map((40, 80), [(5, 10, 35, 25), (36, 10, 70, 25)])
    polys, _ = db_postprocess(touching, DBParams())
    assert len(polys) == 1
    assert polys[0][:, 0].min() < 5 and polys[0][:, 0].max() > 70


def test_dilation_closes_a_one_pixel_gap():
    apart = _blob_map((40, 80), [(5, 10, 34, 25), (36, 10, 70, 25)])
    assert len(db_postprocess(apart, DBParams(dilate=True))[0]) == 1


def test_blob_on_the_border_is_clipped_only_when_asked():
    prob = _blob_map((50, 60), [(0, 0, 30, 12)])
    polys, _ = db_postprocess(prob, DBParams())
    assert len(polys) == 1 and polys[0].min() < 0  # MMOCR does not clip
    clipped, _ = db_postprocess(prob, DBParams(), (0.5, 0.5), image_size=(120, 100))
    assert clipped[0].min() == 0.0
    assert np.allclose(clipped[0][2], np.clip(polys[0][2] / 0.5, 0, [119, 99]))


def test_tiny_blob_below_min_width():
    prob = _blob_map((30, 30), [(10, 10, 12, 12)])
    assert db_postprocess(prob, DBParams(text_repr_type="quad"))[0] == []
    # 'poly' output has no width test (as in MMOCR), only min_box_side when set.
    assert len(db_postprocess(prob, DBParams(text_repr_type="poly"))[0]) == 1
    assert db_postprocess(prob, DBParams(text_repr_type="poly", min_box_side=6))[0] == []


def test_low_scores_are_dropped():
    prob = _blob_map((40, 60), [(10, 10, 40, 25)], value=0.35)
    assert db_postprocess(prob, DBParams(min_text_score=0.4))[0] == []
    assert len(db_postprocess(prob, DBParams(min_text_score=0.3))[0]) == 1


def test_max_candidates_keeps_mmocr_off_by_one():
    rects = [(2 + 12 * i, 5, 10 + 12 * i, 20) for i in range(5)]
    prob = _blob_map((30, 64), rects)
    assert len(db_postprocess(prob, DBParams())[0]) == 5
    assert len(db_postprocess(prob, DBParams(max_candidates=2))[0]) == 3


def test_box_score_mode_uses_the_rectangle():
    # An L-shaped blob: its min-area rectangle holds background, its polygon not.
    prob = _blob_map((60, 60), [(10, 10, 50, 20), (10, 10, 20, 50)])
    _, poly_scores = db_postprocess(prob, DBParams(text_repr_type="poly"))
    _, box_scores = db_postprocess(prob, DBParams(text_repr_type="poly", score_mode="box"))
    assert poly_scores[0] > 0.85 and box_scores[0] < poly_scores[0] - 0.2


def test_poly_output_is_clockwise():
    prob = _blob_map((60, 60), [(10, 10, 50, 20), (10, 10, 20, 50)])
    polys, _ = db_postprocess(prob, DBParams(text_repr_type="poly"))
    assert len(polys) == 1 and len(polys[0]) > 4 and _signed_area(polys[0]) > 0


def test_params_are_validated():
    with pytest.raises(ValueError):
        DBParams(text_repr_type="box")
    with pytest.raises(ValueError):
        DBParams(score_mode="mean")
    with pytest.raises(ValueError):
        db_postprocess(np.zeros((1, 4, 4), np.float32), DBParams())


# ---------------------------------------------------------------- random maps


def _random_map(seed: int, shape=(96, 128)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.random(shape, dtype=np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 2.0) * 1.6 - 0.3


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("repr_type", ["quad", "poly"])
def test_random_maps_give_valid_shapes(seed, repr_type):
    params = DBParams(text_repr_type=repr_type)
    prob = _random_map(seed)
    polys, scores = db_postprocess(prob, params)
    assert len(polys) == len(scores)
    for poly, score in zip(polys, scores):
        assert poly.dtype == np.float32 and poly.ndim == 2 and poly.shape[1] == 2
        assert np.isfinite(poly).all() and score >= params.min_text_score
        assert _signed_area(poly) > 0
        if repr_type == "quad":
            assert poly.shape == (4, 2) and min(cv2.minAreaRect(poly)[1]) >= 5 - 1e-3
        else:
            assert len(poly) >= 4


@pytest.mark.parametrize("seed", range(4))
def test_scale_divides_coordinates(seed):
    prob = _random_map(seed)
    base, base_scores = db_postprocess(prob, DBParams())
    scaled, scaled_scores = db_postprocess(prob, DBParams(), (0.5, 0.25))
    assert scaled_scores == base_scores
    for a, b in zip(base, scaled):
        assert np.allclose(b * [0.5, 0.25], a, atol=1e-3)


def test_box_mode_keeps_long_thin_lines():
    """A 900x12 px text line: MMOCR's 1%-of-perimeter simplification collapses it, box mode must not."""
    prob = np.zeros((200, 1000), np.float32)
    for top in (40, 70, 100):  # three dense lines of a document page, 18 px apart
        prob[top:top + 12, 50:950] = 0.9
    polygons, scores = db_postprocess(prob, DBParams(score_mode="box", mask_thr=0.3, min_text_score=0.5))
    assert len(polygons) == 3
    tops = sorted(float(p[:, 1].min()) for p in polygons)
    assert all(e - 10 < t <= e for t, e in zip(tops, (40, 70, 100)))  # unclip grows ~9 px
    assert all(0.8 < s <= 0.9 + 1e-6 for s in scores)  # the box border rows may fall outside the blob
    # the MMOCR mode loses these lines, which is why the PP-OCR detectors use box mode
    assert len(db_postprocess(prob, DBParams(score_mode="poly"))[0]) < 3
