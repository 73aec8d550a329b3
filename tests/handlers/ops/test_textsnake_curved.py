"""TextSnake post-processing on constructed maps of a curved text line with a known centre line.

The oracle's TextSnake case has no polygon (random weights, radii < 1), so the skeleton ->
centralised disks -> union steps are checked here against geometry known in advance: an arc
of radius 80 px, 24 px thick (predicted radius 12), with sin/cos maps giving the arc's normal.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from handlers.ops.textsnake_postprocess import center_line, textsnake_postprocess

CENTRE, ARC_R, HALF = np.array([160.0, 170.0]), 80.0, 12.0  # (x, y) of the circle, radius, half height
ANGLES = np.deg2rad((200.0, 340.0))  # the upper arc, like text bent over a bottle top


def _arc_maps(height: int = 200, width: int = 320) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    dx, dy = xs - CENTRE[0], ys - CENTRE[1]
    rho, theta = np.hypot(dx, dy), np.mod(np.arctan2(dy, dx), 2 * np.pi)
    on_arc = (theta >= ANGLES[0]) & (theta <= ANGLES[1])
    text = on_arc & (np.abs(rho - ARC_R) <= HALF)
    centre = on_arc & (np.abs(rho - ARC_R) <= 3) & (theta >= ANGLES[0] + 0.05) & (theta <= ANGLES[1] - 0.05)
    maps = np.zeros((5, height, width), np.float32)
    maps[0] = np.where(text, 10.0, -10.0)
    maps[1] = np.where(centre, 10.0, -10.0)
    # MMOCR's convention: a centre point moves along (dy, dx) = (cos, -sin), here the arc's normal
    maps[2], maps[3] = -np.cos(theta), np.sin(theta)
    maps[4] = HALF
    return maps


def test_a_curved_line_becomes_one_polygon_following_the_arc():
    maps = _arc_maps()
    polygons, scores = textsnake_postprocess(maps, scale_factor=(2.0, 2.0))
    assert len(polygons) == 1 and scores[0] > 0.9  # disk caps overhang the arc ends a little
    poly = polygons[0].astype(np.float64) * 2.0  # back to map pixels
    rho = np.hypot(*(poly - CENTRE).T)
    # every vertex lies within a disk radius (12 * 1.03, int-truncated to 12) of the arc, +1 px
    assert np.all(np.abs(rho - ARC_R) <= HALF + 1.5)
    # the polygon covers the text region: high IoU with the annulus sector (its round ends aside)
    drawn = np.zeros(maps.shape[1:], np.uint8)
    cv2.fillPoly(drawn, [np.round(poly).astype(np.int32)], 1)
    text = maps[0] > 0
    iou = np.logical_and(drawn, text).sum() / np.logical_or(drawn, text).sum()
    assert iou > 0.85
    # and it is curved: the middle of the arc is 80 px above the centre, the chord ends much lower
    assert poly[:, 1].min() == pytest.approx(CENTRE[1] - ARC_R - HALF, abs=1.5)
    assert poly[:, 1].max() > CENTRE[1] - ARC_R * np.sin(np.deg2rad(20)) - HALF


def test_the_polygon_is_symmetric_about_the_centre_line():
    # disk centres are pushed to the middle of the (7 px thick) centre region along the normal,
    # so the boundary lies as far inside the arc as outside it
    maps = _arc_maps()
    polygons, _ = textsnake_postprocess(maps)
    rho = np.hypot(*(polygons[0].astype(np.float64) - CENTRE).T)
    inner, outer = rho[rho < ARC_R], rho[rho >= ARC_R]
    assert ARC_R - inner.mean() == pytest.approx(outer.mean() - ARC_R, abs=2.0)


def test_the_center_line_of_the_arc_is_a_thin_connected_curve_on_the_arc():
    # the skeleton MMOCR's post-processor strides along: on the arc (not the region's edge),
    # one pixel wide (no filled 2x2 block), one 8-connected piece spanning the centre region
    region = (_arc_maps()[1] > 0).astype(np.uint8)
    yx = center_line(region)
    rho = np.hypot(yx[:, 1] - CENTRE[0], yx[:, 0] - CENTRE[1])
    # the region is 3 px either side of the arc; only the spurs at its square ends reach out
    assert np.mean(np.abs(rho - ARC_R) <= 1.0) >= 0.95
    skel = np.zeros(region.shape, np.uint8)
    skel[tuple(yx.T)] = 1
    blocks = skel[:-1, :-1] & skel[1:, :-1] & skel[:-1, 1:] & skel[1:, 1:]
    assert not blocks.any()
    assert cv2.connectedComponents(skel, connectivity=8)[0] == 2  # background + one line
    theta = np.arctan2(yx[:, 0] - CENTRE[1], yx[:, 1] - CENTRE[0]) % (2 * np.pi)
    span = np.ptp(theta) / (ANGLES[1] - ANGLES[0] - 0.1)
    assert 0.9 <= span <= 1.0
