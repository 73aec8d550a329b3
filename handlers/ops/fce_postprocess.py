"""FCENet post-processing: per-level classification + Fourier maps -> polygons, scores.

Follows the FCENet paper (inverse Fourier transform of the predicted signature at
every candidate pixel, then NMS) and MMOCR 1.0.1's ``FCEPostprocessor``. Pure numpy /
OpenCV / shapely.

Per level (stride s):
  * tr = softmax over channels 0-1, tcl = softmax over channels 2-3; score =
    tr_fg ** alpha * tcl_fg ** beta; mask = score > score_thr with holes filled
    (flood fill from the border);
  * for every external/internal contour of the mask (``findContours(RETR_TREE,
    CHAIN_APPROX_SIMPLE)``) filled: each pixel (x, y) inside with score > 0 gives the
    complex coefficients c_{-k..k} = x_reg + i y_reg, c_0 += x + i y, all times s;
    the polygon is ``ifft`` of [c_0..c_k, 0.., c_-k..c_-1] times the point count
    (``num_reconstr_points``), truncated to int32;
  * polygon NMS (highest score first, IoU > nms_thr removed; shapely IoU after
    ``buffer(0)`` repair, 1 when the union is empty) per contour, then per level;
  * 'quad': ``boxPoints(minAreaRect)`` truncated to integers.
Then NMS over all levels, and division by the image scale factor.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import cv2
import numpy as np
from numpy.fft import ifft
import shapely
from shapely.geometry import Polygon


def _softmax0(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return (e / e.sum(axis=0, keepdims=True)).astype(np.float32)


def fill_hole(mask: np.ndarray) -> np.ndarray:
    """Fill the holes of a binary mask: everything not reachable from the border."""
    mask = np.asarray(mask).astype(bool)
    h, w = mask.shape
    canvas = np.zeros((h + 2, w + 2), np.uint8)
    canvas[1:h + 1, 1:w + 1] = mask
    flood = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(canvas, flood, (0, 0), 1)
    return ~canvas[1:h + 1, 1:w + 1].astype(bool) | mask


def _valid(poly: Polygon) -> Polygon:
    fixed = poly if poly.is_valid else poly.buffer(0)
    if not isinstance(fixed, Polygon):
        fixed = fixed.convex_hull
    return fixed


def boundary_iou(a: Sequence[float], b: Sequence[float], zero_division: float = 0.0) -> float:
    """IoU of two flat boundaries (float32 vertices, invalid ones repaired)."""
    pa = _valid(Polygon(np.asarray(a, np.float32).reshape(-1, 2)))
    pb = _valid(Polygon(np.asarray(b, np.float32).reshape(-1, 2)))
    if not pa.is_valid or not pb.is_valid:
        return 0.0
    union = pa.union(pb).area
    return pa.intersection(pb).area / union if union != 0 else zero_division


def poly_nms(polygons: list, scores: list, threshold: float) -> tuple[list, list]:
    """Greedy polygon NMS: keep the best, drop the others with IoU > threshold.

    Pairs are compared like ``boundary_iou(.., zero_division=1)`` (float32 vertices,
    buffer(0) repair); geometries are built once, the IoU uses shapely 2's vectorised
    intersection only where bounding boxes overlap and union = area_a + area_b - inter.
    """
    if not polygons:
        return [], []
    rows = [np.hstack((np.asarray(p, dtype=np.float64).ravel(), s))
            for p, s in zip(polygons, scores)]
    rows = np.array(sorted(rows, key=lambda r: r[-1]))  # stable, ascending score
    geoms = np.empty(len(rows), dtype=object)
    geoms[:] = [Polygon(r[:-1].astype(np.float32).reshape(-1, 2)) for r in rows]
    bad = ~shapely.is_valid(geoms)
    if bad.any():  # buffer(0) repair, convex hull of what is still not a Polygon
        fixed = shapely.buffer(geoms[bad], 0)
        geoms[bad] = [g if isinstance(g, Polygon) else g.convex_hull for g in fixed]
    valid = shapely.is_valid(geoms)
    areas = shapely.area(geoms)
    bounds = shapely.bounds(geoms)
    keep_polys: list = []
    keep_scores: list = []
    index = np.arange(len(rows))
    while len(index) > 0:
        b = index[-1]
        keep_polys.append(rows[b][:-1].tolist())
        keep_scores.append(rows[b][-1])
        index = index[:-1]
        if not len(index):
            break
        ob = bounds[index]
        near = ((ob[:, 0] <= bounds[b, 2]) & (ob[:, 2] >= bounds[b, 0])
                & (ob[:, 1] <= bounds[b, 3]) & (ob[:, 3] >= bounds[b, 1]))
        inter = np.zeros(len(index))
        if near.any():
            inter[near] = shapely.area(shapely.intersection(geoms[b], geoms[index[near]]))
        union = areas[b] + areas[index] - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = np.where(union != 0, inter / np.where(union != 0, union, 1), 1.0)
        iou = np.where(valid[b] & valid[index], iou, 0.0)
        index = index[iou <= threshold]
    return keep_polys, keep_scores


def fourier_to_poly(coeff: np.ndarray, num_points: int = 50) -> np.ndarray:
    """(n, 2k+1) complex coefficients c_{-k..k} -> (n, 2 num_points) int32 polygons."""
    n, m = coeff.shape
    k = (m - 1) // 2
    a = np.zeros((n, num_points), dtype=complex)
    a[:, :k + 1] = coeff[:, k:]
    a[:, -k:] = coeff[:, :k]
    z = ifft(a) * num_points
    poly = np.zeros((n, num_points, 2))
    poly[:, :, 0] = z.real
    poly[:, :, 1] = z.imag
    return poly.astype(np.int32).reshape(n, -1)


def _level(cls_res: np.ndarray, reg_res: np.ndarray, scale: int, fourier_degree: int,
           num_reconstr_points: int, alpha: float, beta: float, score_thr: float,
           nms_thr: float, text_repr_type: str) -> tuple[list, list]:
    tr = _softmax0(cls_res[0:2])
    tcl = _softmax0(cls_res[2:])
    reg = np.ascontiguousarray(reg_res.transpose(1, 2, 0)).astype(np.float32)
    x_pred = reg[:, :, :2 * fourier_degree + 1]
    y_pred = reg[:, :, 2 * fourier_degree + 1:]
    score_pred = (tr[1] ** alpha) * (tcl[1] ** beta)
    tr_mask = fill_hole(score_pred > score_thr)
    contours, _ = cv2.findContours(tr_mask.astype(np.uint8), cv2.RETR_TREE,
                                   cv2.CHAIN_APPROX_SIMPLE)
    polys: list = []
    scores: list = []
    for cont in contours:
        deal = np.zeros(tr_mask.shape, np.uint8)
        cv2.drawContours(deal, [cont], -1, 1, -1)
        score_map = score_pred * deal.astype(np.int8)
        sel = score_map > 0
        yx = np.argwhere(sel)
        dxy = yx[:, 1] + yx[:, 0] * 1j
        c = x_pred[sel] + y_pred[sel] * 1j
        c[:, fourier_degree] = c[:, fourier_degree] + dxy
        c *= scale
        p = fourier_to_poly(c, num_reconstr_points).tolist()
        s = score_map[sel].reshape(-1, 1).tolist()
        p, s = poly_nms(p, s, nms_thr)
        polys += p
        scores += s
    polys, scores = poly_nms(polys, scores, nms_thr)
    if text_repr_type == "quad":
        quads = []
        for poly in polys:
            pts = cv2.boxPoints(cv2.minAreaRect(np.asarray(poly).reshape(-1, 2)
                                                .astype(np.float32)))
            quads.append(pts.astype(np.intp).reshape(-1))
        polys = quads
    return polys, scores


def fce_postprocess(levels: Sequence[Mapping[str, np.ndarray]], fourier_degree: int = 5,
                    num_reconstr_points: int = 50, scales: Sequence[int] = (8, 16, 32),
                    text_repr_type: str = "poly", alpha: float = 1.0, beta: float = 2.0,
                    score_thr: float = 0.3, nms_thr: float = 0.1,
                    scale_factor: Sequence[float] = (1.0, 1.0)
                    ) -> tuple[list[np.ndarray], list[float]]:
    """One image's per-level ``{'cls_res': (4, h, w), 'reg_res': (2(2k+1), h, w)}`` ->
    (polygons (n, 2) float32 in original-image pixels, scores). Defaults: MMOCR's class
    defaults; the icdar2015 config uses alpha 1.2, beta 1.0, 'quad'."""
    if len(levels) != len(scales):
        raise ValueError(f"{len(levels)} levels for {len(scales)} scales")
    if text_repr_type not in ("poly", "quad"):
        raise ValueError(f"text_repr_type must be 'quad' or 'poly', got {text_repr_type!r}")
    polys: list = []
    scores: list = []
    for level, scale in zip(levels, scales):
        p, s = _level(np.asarray(level["cls_res"]), np.asarray(level["reg_res"]), scale,
                      fourier_degree, num_reconstr_points, alpha, beta, score_thr, nms_thr,
                      text_repr_type)
        polys += p
        scores += s
    polys, scores = poly_nms(polys, scores, nms_thr)
    sf = np.asarray(scale_factor, dtype=np.float64)
    out = [(np.asarray(p, np.float32).reshape(-1, 2) / sf).astype(np.float32) for p in polys]
    return out, [float(s) for s in scores]
