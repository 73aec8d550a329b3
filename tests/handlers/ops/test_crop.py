"""Tests for handlers.ops.crop on synthetic images."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from handlers.ops.crop import Crop, crop_quad, crop_size, order_quad, quad_for_polygon

SQUARE = np.array([[10, 20], [50, 20], [50, 40], [10, 40]], dtype=np.float32)


@pytest.mark.parametrize("perm", list(itertools.permutations(range(4))))
def test_order_quad_any_input_order(perm):
    assert np.array_equal(order_quad(SQUARE[list(perm)]), SQUARE)


def test_order_quad_rotated_rectangle_starts_at_the_top_edge():
    for angle in (-40, -15, 0, 10, 35):
        pts = cv2.boxPoints(((100.0, 100.0), (80.0, 20.0), angle))
        quad = order_quad(pts[::-1])
        top = quad[1] - quad[0]
        assert np.degrees(np.arctan2(top[1], top[0])) == pytest.approx(angle, abs=1e-3)
        assert np.linalg.norm(top) == pytest.approx(80.0, abs=1e-3)


def test_order_quad_steep_line_has_short_top_edge():
    # A line at 60 degrees: the edge nearest to +x is the short one.
    pts = cv2.boxPoints(((100.0, 100.0), (80.0, 20.0), 60.0))
    quad = order_quad(pts)
    assert np.linalg.norm(quad[1] - quad[0]) == pytest.approx(20.0, abs=1e-3)
    assert np.linalg.norm(quad[3] - quad[0]) == pytest.approx(80.0, abs=1e-3)


def test_order_quad_diamond_tie_is_deterministic():
    diamond = np.array([[5, 0], [10, 5], [5, 10], [0, 5]], dtype=np.float32)
    quad = order_quad(diamond)
    assert quad[0].tolist() == [0, 5] and quad[1].tolist() == [5, 0]


def test_order_quad_rejects_wrong_shapes():
    with pytest.raises(ValueError):
        order_quad(np.zeros((3, 2)))


def test_order_quad_with_duplicate_points_keeps_them():
    pts = np.array([[0, 0], [0, 0], [10, 0], [10, 5]], dtype=np.float32)
    quad = order_quad(pts)
    assert quad.shape == (4, 2)
    assert sorted(map(tuple, quad.tolist())) == sorted(map(tuple, pts.tolist()))


def test_quad_for_polygon():
    assert np.array_equal(quad_for_polygon(SQUARE[[2, 0, 3, 1]]), SQUARE)
    octagon = np.array(
        [[12, 20], [48, 20], [50, 25], [50, 35], [48, 40], [12, 40], [10, 35], [10, 25]]
    )
    assert np.allclose(quad_for_polygon(octagon), SQUARE, atol=1e-4)
    with pytest.raises(ValueError):
        quad_for_polygon(np.zeros((0, 2)))


def _stripes_image() -> np.ndarray:
    """Width 60, height 20 patch: red left third, green middle, blue right third."""
    patch = np.zeros((20, 60, 3), np.uint8)
    patch[:, :20] = (0, 0, 255)
    patch[:, 20:40] = (0, 255, 0)
    patch[:, 40:] = (255, 0, 0)
    return patch


def test_crop_recovers_a_warped_rectangle():
    patch = _stripes_image()
    src = np.array([[0, 0], [60, 0], [60, 20], [0, 20]], dtype=np.float32)
    dst = np.array([[40, 30], [95, 45], [90, 66], [36, 50]], dtype=np.float32)
    image = cv2.warpPerspective(patch, cv2.getPerspectiveTransform(src, dst), (140, 100))
    crop = crop_quad(image, dst[[2, 0, 3, 1]])
    assert isinstance(crop, Crop) and not crop.rotated
    assert np.array_equal(crop.quad, dst)
    w, h = crop_size(dst)
    assert crop.image.shape == (h, w, 3)
    # Sample the middle of each stripe, away from the resampled borders.
    mid = crop.image[h // 2]
    for frac, colour in ((1 / 6, (0, 0, 255)), (0.5, (0, 255, 0)), (5 / 6, (255, 0, 0))):
        assert np.abs(mid[int(frac * w)].astype(int) - colour).max() < 40


def test_crop_size_truncates_like_paddleocr():
    quad = np.array([[0, 0], [10.9, 0], [10.9, 3.5], [0, 3.5]], dtype=np.float32)
    assert crop_size(quad) == (10, 3)


def test_tall_crop_is_rotated_counter_clockwise():
    image = np.zeros((100, 100, 3), np.uint8)
    image[10:30, 40:60] = 255  # top of a vertical 20 x 80 region
    quad = np.array([[40, 10], [60, 10], [60, 90], [40, 90]], dtype=np.float32)
    crop = crop_quad(image, quad)
    assert crop.rotated and crop.image.shape == (20, 80, 3)
    assert crop.image.flags["C_CONTIGUOUS"]
    # np.rot90 (CCW) puts the region's top at the left of the rotated crop.
    assert crop.image[:, :15].min() > 200 and crop.image[:, 30:].max() < 50


def test_rotation_threshold_is_1_5():
    image = np.zeros((100, 100, 3), np.uint8)
    square_ish = np.array([[10, 10], [30, 10], [30, 39], [10, 39]], dtype=np.float32)  # 20 x 29
    assert not crop_quad(image, square_ish).rotated
    tall = np.array([[10, 10], [30, 10], [30, 40], [10, 40]], dtype=np.float32)  # 20 x 30
    assert crop_quad(image, tall).rotated


def test_degenerate_quads_give_small_crops():
    image = np.full((50, 50, 3), 7, np.uint8)
    point = np.array([[5, 5]] * 4, dtype=np.float32)
    crop = crop_quad(image, point)
    assert crop.image.shape == (1, 1, 3) and crop.image[0, 0, 0] == 7
    line = np.array([[5, 5], [30, 5], [30, 5], [5, 5]], dtype=np.float32)
    crop = crop_quad(image, line)
    assert crop.image.shape == (1, 25, 3) and not crop.rotated


def test_quad_outside_the_image_replicates_the_border():
    image = np.zeros((20, 20, 3), np.uint8)
    image[:, -1] = 200
    quad = np.array([[15, 5], [35, 5], [35, 15], [15, 15]], dtype=np.float32)
    crop = crop_quad(image, quad)
    assert crop.image.shape == (10, 20, 3)
    assert crop.image[:, 10:].min() > 150  # BORDER_REPLICATE of the last column
