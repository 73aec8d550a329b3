"""DB training targets for one image (the DB paper, section 3.3; the shapes MMOCR's DBNet targets have).

- probability map: every text polygon shrunk inwards by D = A (1 - r^2) / L (A its area, L its
  perimeter, r = 0.4), filled with 1;
- its mask: 0 over don't-care regions (`###`, boxes whose short side is under `min_size` pixels,
  polygons that vanish when shrunk), 1 elsewhere;
- threshold map: the polygon dilated outwards by the same D; inside that band each pixel's
  distance to the nearest polygon edge, divided by D, clipped to [0, 1] and inverted (1 on the edge,
  0 at distance D), scaled to [thr_min, thr_max]; its mask is the union of the dilated polygons.

The offsets are pyclipper's (Vatti clipping, round joins), as in the paper's code.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pyclipper

SHRINK_RATIO = 0.4


@dataclass
class DBTargets:
    """The four maps of one image (float32, H x W)."""

    shrink: np.ndarray
    shrink_mask: np.ndarray
    thr: np.ndarray
    thr_mask: np.ndarray


def offset_distance(polygon: np.ndarray, ratio: float = SHRINK_RATIO) -> float:
    """D = A (1 - r^2) / L of a (N, 2) polygon."""
    area = abs(cv2.contourArea(polygon.astype(np.float32)))
    perimeter = cv2.arcLength(polygon.astype(np.float32), closed=True)
    return float(area * (1 - ratio ** 2) / perimeter) if perimeter > 0 else 0.0


def offset_polygon(polygon: np.ndarray, distance: float) -> list[np.ndarray]:
    """The polygon grown (distance > 0) or shrunk (< 0) by pyclipper; [] when it vanishes."""
    pco = pyclipper.PyclipperOffset()
    pco.AddPath(np.round(polygon).astype(np.int64).tolist(), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return [np.asarray(p, np.float64) for p in pco.Execute(distance) if len(p) >= 3]


def _short_side(polygon: np.ndarray) -> float:
    (_, _), (w, h), _ = cv2.minAreaRect(polygon.astype(np.float32))
    return min(w, h)


def _edge_distance(xs: np.ndarray, ys: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Distance of every grid point to the nearest edge (segment) of the closed polygon."""
    best = np.full(xs.shape, np.inf, np.float64)
    for a, b in zip(polygon, np.roll(polygon, -1, axis=0)):
        ab = b - a
        length2 = float(ab @ ab)
        if length2 == 0:
            d = np.hypot(xs - a[0], ys - a[1])
        else:
            t = np.clip(((xs - a[0]) * ab[0] + (ys - a[1]) * ab[1]) / length2, 0.0, 1.0)
            d = np.hypot(xs - (a[0] + t * ab[0]), ys - (a[1] + t * ab[1]))
        best = np.minimum(best, d)
    return best


def _draw_border(polygon: np.ndarray, distance: float, canvas: np.ndarray, mask: np.ndarray) -> None:
    grown = offset_polygon(polygon, distance)
    if not grown:
        return
    band = grown[0]
    cv2.fillPoly(mask, [np.round(band).astype(np.int32)], 1.0)
    height, width = canvas.shape
    x0, y0 = np.floor(band.min(axis=0)).astype(int)
    x1, y1 = np.ceil(band.max(axis=0)).astype(int)
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width - 1), min(y1, height - 1)
    if cx0 > cx1 or cy0 > cy1:
        return
    ys, xs = np.mgrid[cy0:cy1 + 1, cx0:cx1 + 1].astype(np.float64)
    closeness = 1.0 - np.clip(_edge_distance(xs, ys, polygon) / distance, 0.0, 1.0)
    # only inside the dilated polygon (the band's own mask), as the loss mask is
    inside = np.zeros_like(closeness, np.uint8)
    cv2.fillPoly(inside, [np.round(band - [cx0, cy0]).astype(np.int32)], 1)
    region = canvas[cy0:cy1 + 1, cx0:cx1 + 1]
    np.maximum(region, closeness * inside, out=region)


def db_targets(height: int, width: int, polygons: list[np.ndarray], ignored: list[bool], *,
               shrink_ratio: float = SHRINK_RATIO, min_size: float = 8.0,
               thr_min: float = 0.3, thr_max: float = 0.7) -> DBTargets:
    """Targets of one (height x width) image whose text polygons are (N, 2) arrays in pixels."""
    shrink = np.zeros((height, width), np.float32)
    shrink_mask = np.ones((height, width), np.float32)
    canvas = np.zeros((height, width), np.float64)
    thr_mask = np.zeros((height, width), np.float32)
    for polygon, ignore in zip(polygons, ignored):
        polygon = np.asarray(polygon, np.float64).reshape(-1, 2)
        outline = [np.round(polygon).astype(np.int32)]
        if ignore or len(polygon) < 3 or _short_side(polygon) < min_size:
            cv2.fillPoly(shrink_mask, outline, 0.0)
            continue
        distance = offset_distance(polygon, shrink_ratio)
        shrunk = offset_polygon(polygon, -distance) if distance > 0 else []
        if not shrunk:
            cv2.fillPoly(shrink_mask, outline, 0.0)
            continue
        cv2.fillPoly(shrink, [np.round(shrunk[0]).astype(np.int32)], 1.0)
        _draw_border(polygon, distance, canvas, thr_mask)
    thr = (canvas * (thr_max - thr_min) + thr_min).astype(np.float32)
    return DBTargets(shrink, shrink_mask, thr, thr_mask)
