"""Differentiable Binarization (DBNet) post-processing: probability map -> polygons.

Reproduces MMOCR 1.0.1's ``DBPostprocessor`` (checked against the oracle cases in
shared/oracle/cases/db_postprocessor_cases.json), plus a few PaddleOCR options
(``score_mode='box'``, ``dilate``, ``min_box_side``) that are off by default.

MMOCR details kept on purpose:
  * contours come from ``findContours(RETR_LIST, CHAIN_APPROX_SIMPLE)`` and the
    loop breaks when the contour index *exceeds* ``max_candidates``, so up to
    ``max_candidates + 1`` contours are examined;
  * the score is the mean probability inside the approxPolyDP polygon,
    rasterised like OpenCV <= 4.10's ``fillPoly`` (outline included). OpenCV
    4.11 changed that rasteriser and shifts scores by up to ~3e-3, so it is
    reimplemented here (`legacy_fill_mask`) instead of calling cv2.fillPoly;
  * the unclip distance is ``area * unclip_ratio / perimeter`` of the
    approximated polygon, offset by pyclipper (JT_ROUND, integer output);
  * ``min_text_width`` is tested on the min-area rectangle in 'quad' mode only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pyclipper
from shapely.geometry import Polygon

from handlers.ops.crop import order_quad

_FIX = 16  # OpenCV's XY_SHIFT: fixed-point bits of its polygon filler.
_HALF = 1 << (_FIX - 1)


@dataclass(frozen=True)
class DBParams:
    """Settings of `db_postprocess`; defaults are MMOCR's DBPostprocessor ones."""

    mask_thr: float = 0.3
    min_text_score: float = 0.3
    min_text_width: int = 5
    unclip_ratio: float = 1.5
    epsilon_ratio: float = 0.01
    max_candidates: int = 3000
    text_repr_type: str = "quad"  # 'quad' (min-area rectangle) or 'poly'
    score_mode: str = "poly"  # 'poly' (MMOCR) or 'box' (PaddleOCR fast mode)
    dilate: bool = False  # PaddleOCR use_dilation: 2x2 dilation of the mask
    min_box_side: float = 0.0  # drop shapes whose rectangle short side is below

    def __post_init__(self) -> None:
        if self.text_repr_type not in ("quad", "poly"):
            raise ValueError(f"text_repr_type must be 'quad'/'poly', got {self.text_repr_type!r}")
        if self.score_mode not in ("poly", "box"):
            raise ValueError(f"score_mode must be 'poly' or 'box', got {self.score_mode!r}")


def db_postprocess(
    prob_map: np.ndarray,
    params: DBParams,
    scale: tuple[float, float] = (1.0, 1.0),
    *,
    image_size: tuple[int, int] | None = None,
) -> tuple[list[np.ndarray], list[float]]:
    """Decode a DB probability map (H, W) into (K, 2) float32 polygons and scores.

    Coordinates are divided by ``scale = (w_scale, h_scale)`` to land in original
    image pixels; quads are ordered TL, TR, BR, BL (see crop.order_quad), other
    polygons run clockwise on screen, and all shapes are clipped to
    ``[0, w-1] x [0, h-1]`` when ``image_size=(w, h)`` is given.
    """
    prob = np.asarray(prob_map, dtype=np.float32)
    if prob.ndim != 2:
        raise ValueError(f"prob_map must be (H, W), got shape {prob.shape}")
    contours, _ = cv2.findContours(
        _binarize(prob, params), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE
    )
    polygons: list[np.ndarray] = []
    scores: list[float] = []
    for index, contour in enumerate(contours):
        if index > params.max_candidates:  # MMOCR's off-by-one, kept for parity
            break
        found = _decode_contour(prob, contour.reshape(-1, 2), params)
        if found is not None:
            polygons.append(_to_image(found[0], params, scale, image_size))
            scores.append(found[1])
    return polygons, scores


def _binarize(prob: np.ndarray, params: DBParams) -> np.ndarray:
    """Binary text mask (uint8 0/255), optionally dilated like PaddleOCR."""
    mask = (prob > params.mask_thr).astype(np.uint8) * 255
    if params.dilate:
        mask = cv2.dilate(mask, np.ones((2, 2), dtype=np.uint8))
    return mask


def _decode_contour(
    prob: np.ndarray, contour: np.ndarray, params: DBParams
) -> tuple[np.ndarray, float] | None:
    """One contour -> (shape in map pixels, score), or None when rejected."""
    if params.score_mode == "box":
        return _decode_contour_box(prob, contour, params)
    epsilon = params.epsilon_ratio * cv2.arcLength(contour, True)
    approx = cv2.approxPolyDP(contour, epsilon, True).reshape(-1, 2)
    if len(approx) < 4:
        return None
    if params.score_mode == "poly":
        score = polygon_mean(prob, approx)
    else:
        score = polygon_mean(prob, cv2.boxPoints(cv2.minAreaRect(contour)))
    if score < params.min_text_score:
        return None
    expanded = unclip(approx, params.unclip_ratio)
    if expanded is None:
        return None
    if params.text_repr_type == "quad":
        rect = cv2.minAreaRect(expanded)
        if min(rect[1]) < params.min_text_width:
            return None
        expanded = cv2.boxPoints(rect)
    elif len(expanded) < 4:
        return None
    if params.min_box_side > 0 and min(cv2.minAreaRect(expanded)[1]) < params.min_box_side:
        return None
    return expanded, score


def _decode_contour_box(
    prob: np.ndarray, contour: np.ndarray, params: DBParams
) -> tuple[np.ndarray, float] | None:
    """PaddleOCR's variant: score and unclip the contour's min-area rectangle.

    MMOCR first simplifies the contour with approxPolyDP at 1% of its perimeter; on a long
    thin text line that tolerance exceeds the line height and the polygon collapses below
    four points, losing whole lines of a document page. The rectangle never collapses.
    """
    box = cv2.boxPoints(cv2.minAreaRect(contour))
    if min(cv2.minAreaRect(contour)[1]) < 3:
        return None
    score = polygon_mean(prob, box)
    if score < params.min_text_score:
        return None
    expanded = unclip(box, params.unclip_ratio)
    if expanded is None:
        return None
    rect = cv2.minAreaRect(expanded)
    if min(rect[1]) < params.min_text_width:
        return None
    return cv2.boxPoints(rect), score


def unclip(polygon: np.ndarray, ratio: float) -> np.ndarray | None:
    """Offset a polygon outward by area * ratio / perimeter; None if empty or split."""
    shape = Polygon(polygon)
    if shape.length == 0:
        return None
    distance = shape.area * ratio / shape.length
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(np.asarray(polygon), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    paths = offset.Execute(distance)
    # MMOCR's offset_polygon means to reject results that split into several
    # paths (old numpy gave it an object array; numpy >= 1.24 raises on the
    # ragged list instead). No oracle case has one; we reject them.
    if len(paths) != 1:
        return None
    return np.asarray(paths[0], dtype=np.float32).reshape(-1, 2)


def _to_image(
    shape: np.ndarray,
    params: DBParams,
    scale: tuple[float, float],
    image_size: tuple[int, int] | None,
) -> np.ndarray:
    """Rescale map pixels to image pixels, order and clip."""
    pts = shape.astype(np.float64) / np.asarray(scale, dtype=np.float64)
    if params.text_repr_type == "quad":
        pts = order_quad(pts).astype(np.float64)
    elif _signed_area(pts) < 0:
        pts = pts[::-1]  # clockwise on screen, like the quads
    if image_size is not None:
        pts = np.clip(pts, 0, [image_size[0] - 1, image_size[1] - 1])
    return pts.astype(np.float32)


def _signed_area(pts: np.ndarray) -> float:
    """Shoelace area; positive for clockwise order in y-down image coordinates."""
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def polygon_mean(prob: np.ndarray, polygon: np.ndarray) -> float:
    """Mean of `prob` over a polygon filled on its bounding-box crop (MMOCR score)."""
    h, w = prob.shape
    pts = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    x0, y0 = np.clip(np.floor(pts.min(axis=0)).astype(np.int64), 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(pts.max(axis=0)).astype(np.int64), 0, [w - 1, h - 1])
    # astype(int) truncates toward zero, as MMOCR/PaddleOCR do before fillPoly.
    local = (pts - [x0, y0]).astype(np.int64)
    # Vertices outside the crop only happen for 'box' scores at the map border;
    # clipping them keeps the rasteriser simple (cv2 would clip the edges).
    local = np.clip(local, 0, [x1 - x0, y1 - y0])
    mask = legacy_fill_mask(local, (int(y1 - y0 + 1), int(x1 - x0 + 1)))
    crop = prob[y0 : y1 + 1, x0 : x1 + 1]
    return float(crop[mask].astype(np.float64).mean()) if mask.any() else 0.0


def legacy_fill_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of cv2.fillPoly (OpenCV <= 4.10, LINE_8, shift 0) of one polygon.

    ``points`` are integer vertices inside the (H, W) canvas. The old filler
    draws every edge with an 8-connected Bresenham line, then fills each row
    between pairs of edge crossings, each rounded to the nearest pixel.
    """
    pts = np.asarray(points, dtype=np.int64).reshape(-1, 2)
    # Edge i runs from vertex i-1 to vertex i, as in OpenCV's CollectPolyEdges.
    start, end = pts[np.arange(-1, len(pts) - 1)], pts
    mask = np.zeros(shape, dtype=bool)
    xs, ys = _bresenham(start, end)
    mask[ys, xs] = True
    _fill_rows(mask, start, end)
    return mask


def _bresenham(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of the pre-4.11 LineIterator (8-connected, left to right) of all edges."""
    swap = end[:, 0] < start[:, 0]  # the iterator always walks with x increasing
    p0 = np.where(swap[:, None], end, start)
    dx, dy = (np.where(swap[:, None], start, end) - p0).T
    vertical = np.abs(dy) > dx
    major = np.where(vertical, np.abs(dy), dx)
    minor = np.where(vertical, dx, np.abs(dy))
    edge = np.repeat(np.arange(len(p0)), major + 1)
    k = np.arange(len(edge)) - np.repeat(np.cumsum(major + 1) - (major + 1), major + 1)
    # Closed form of its error-term loop (err0 = major - 2*minor, one minor
    # step whenever err < 0 before the update).
    num = 2 * minor[edge] * k + major[edge] - 1
    steps = np.where(major[edge] > 0, num // np.maximum(2 * major[edge], 1), 0)
    sign_y = np.where(dy[edge] < 0, -1, 1)
    along_y = vertical[edge]
    xs = p0[edge, 0] + np.where(along_y, steps, k)
    ys = p0[edge, 1] + sign_y * np.where(along_y, k, steps)
    return xs, ys


def _fill_rows(mask: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
    """Scanline part of the old fillPoly, in its 16-bit fixed point."""
    keep = start[:, 1] != end[:, 1]  # horizontal edges add no crossings
    if keep.sum() < 2:
        return
    start, end = start[keep], end[keep]
    top = np.where((start[:, 1] < end[:, 1])[:, None], start, end)
    y_end = np.maximum(start[:, 1], end[:, 1])  # exclusive: the old filler skips it
    num = (end[:, 0] - start[:, 0]) << _FIX
    den = end[:, 1] - start[:, 1]
    slope = np.sign(num) * np.sign(den) * (np.abs(num) // np.abs(den))  # C division
    rows = np.arange(top[:, 1].min(), min(int(y_end.max()), mask.shape[0]))
    if len(rows) == 0:
        return
    rel = rows[None, :] - top[:, 1:2]
    active = (rel >= 0) & (rows[None, :] < y_end[:, None])
    x = (top[:, 0:1] << _FIX) + rel * slope[:, None]
    # Crossings of a row, left to right, paired up as (enter, leave).
    x = np.sort(np.where(active, x, np.iinfo(np.int64).max), axis=0)
    n_pairs = active.sum(axis=0) // 2
    pair = np.arange(x.shape[0] // 2)[:, None]
    ok = pair < n_pairs[None, :]
    # The old filler rounds both crossings to the nearest pixel (4.11+ takes
    # ceil/floor instead), which is what moves the MMOCR scores.
    left = (x[0::2][: len(pair)] + _HALF) >> _FIX
    right = (x[1::2][: len(pair)] + _HALF) >> _FIX
    width = mask.shape[1]
    left, right = np.maximum(left, 0), np.minimum(right, width - 1)
    ok &= left <= right
    row_idx = np.broadcast_to(rows - rows[0], ok.shape)[ok]
    # Difference array: +1 where a span starts, -1 one past its end.
    diff = np.zeros((len(rows), width + 1), dtype=np.int32)
    np.add.at(diff, (row_idx, left[ok]), 1)
    np.add.at(diff, (row_idx, right[ok] + 1), -1)
    mask[rows] |= np.cumsum(diff, axis=1)[:, :width] > 0
