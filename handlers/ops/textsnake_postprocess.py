"""TextSnake post-processing (disk striding): (5, H, W) maps -> polygons, scores.

Follows the TextSnake paper (text center line -> centralised disks of predicted radius
-> union of disks) and MMOCR 1.0.1's ``TextSnakePostprocessor`` defaults (text region
0.6, center region 0.2, min center area 30, disk overlap 0.03, radius shrink 1.03,
'poly' only). Pure numpy / OpenCV / scikit-image.

Steps as MMOCR does them:
  * text = sigmoid(ch 0), center = sigmoid(ch 1) * text; masks text > 0.6,
    center > 0.2 (holes filled); sin/cos (ch 2, 3) normalised to unit length;
  * every center contour (``RETR_TREE``) of area >= min_center_area is filled and
    thinned with scikit-image's ``skeletonize`` (as MMOCR does); each skeleton point
    is pushed along the normal (cos, -sin) in steps of 0.03 radius while it stays in
    the filled contour, both ways, and the midpoint (int32-truncated) becomes a disk centre with radius
    radius(centre) * 1.03 and score center(centre);
  * disks are merged greedily by score (distance <= (r_i + r_j) * 0.03 -> mean disk);
  * disks of radius > 1 are drawn (``cv2.circle`` with int centre / radius), the first
    contour of the drawing is the polygon if its area > 0 and it has > 4 points; its
    score is the mean text probability under the drawn disks.

The thinning is scikit-image's (the library MMOCR calls), not a hand-written Zhang-Suen:
its lookup table departs from the paper's conditions for some neighbourhoods, and a copy of
the paper's rule would give MMOCR a slightly different skeleton, and was 25x slower. The
oracle (random weights, all predicted radii < 1) yields no polygon, which this reproduces.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from handlers.ops.fce_postprocess import fill_hole
from handlers.ops.pan_postprocess import sigmoid


def center_line(region: np.ndarray) -> np.ndarray:
    """(n, 2) int (y, x) points of the one-pixel-wide skeleton of a filled center region."""
    # imported here: scikit-image pulls in scipy (~1 s), which the other detectors served by
    # the same handler module should not pay for at worker start
    from skimage.morphology import skeletonize

    return np.argwhere(skeletonize(np.asarray(region) > 0))


def centralize(points_yx: np.ndarray, normal_cos: np.ndarray, normal_sin: np.ndarray,
               radius: np.ndarray, contour_mask: np.ndarray, step_ratio: float = 0.03
               ) -> np.ndarray:
    """Move skeleton points to the middle of the region along their normal."""
    h, w = contour_mask.shape
    step = step_ratio * radius * np.hstack([normal_cos, normal_sin])

    def march(sign: float) -> np.ndarray:
        yx = points_yx.astype(np.float64)
        flags = np.ones((len(points_yx), 1), dtype=bool)
        while np.any(flags):
            nxt = np.array(yx + sign * step, dtype=np.int32)
            ny, nx = nxt[:, 0], nxt[:, 1]
            flags = ((ny >= 0) & (ny < h) & (nx > 0) & (nx < w)
                     & (contour_mask[np.clip(ny, 0, h - 1), np.clip(nx, 0, w - 1)] > 0))
            yx = yx + sign * flags.reshape(-1, 1) * step
        return yx

    return np.array((march(1.0) + march(-1.0)) * 0.5, dtype=np.int32)


def merge_disks(disks: np.ndarray, disk_overlap_thr: float) -> np.ndarray:
    """(n, 4) [x, y, r, score] -> merged disks, highest score first."""
    xy, radius, scores = disks[:, :2], disks[:, 2], disks[:, 3]
    order = scores.argsort()[::-1]
    merged = []
    while order.size > 0:
        if order.size == 1:
            merged.append(disks[order])
            break
        i = order[0]
        d = np.linalg.norm(xy[i] - xy[order[1:]], axis=1)
        d_thr = (radius[i] + radius[order[1:]]) * disk_overlap_thr
        close = np.where(d <= d_thr)[0] + 1
        merged.append(np.mean(disks[np.hstack([i, order[close]])], axis=0) if close.size
                      else disks[i])
        order = order[np.where(d > d_thr)[0] + 1]
    return np.vstack(merged)


def textsnake_postprocess(maps: np.ndarray, text_repr_type: str = "poly",
                          min_text_region_confidence: float = 0.6,
                          min_center_region_confidence: float = 0.2,
                          min_center_area: int = 30, disk_overlap_thr: float = 0.03,
                          radius_shrink_ratio: float = 1.03,
                          scale_factor: Sequence[float] = (1.0, 1.0)
                          ) -> tuple[list[np.ndarray], list[float]]:
    """(5, H, W) TextSnake head output of one image -> (polygons (n, 2) float32, scores)."""
    if text_repr_type != "poly":
        raise ValueError("TextSnake supports text_repr_type='poly' only")
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3 or maps.shape[0] != 5:
        raise ValueError(f"expected (5, H, W) maps, got {maps.shape}")
    text_score = sigmoid(maps[0])
    center_score = sigmoid(maps[1]) * text_score
    center_mask = fill_hole(center_score > min_center_region_confidence).astype(np.uint8)
    sin, cos, radius_map = maps[2], maps[3], maps[4]
    scale = np.sqrt(1.0 / (sin ** 2 + cos ** 2 + 1e-8))
    sin, cos = sin * scale, cos * scale
    contours, _ = cv2.findContours(center_mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    sf = np.asarray(scale_factor, dtype=np.float64)
    polygons: list[np.ndarray] = []
    scores: list[float] = []
    # Merged radii are means of predicted radii, so if none can exceed 1 no disk is
    # ever drawn and there is no polygon: skip the (costly) thinning altogether.
    if float(radius_map.max()) * radius_shrink_ratio <= 1.0 - 1e-6:
        contours = ()
    for contour in contours:
        if cv2.contourArea(contour) < min_center_area:
            continue
        inst_center = np.zeros(center_mask.shape, np.uint8)
        cv2.drawContours(inst_center, [contour], -1, 1, -1)
        skel_yx = center_line(inst_center)
        if len(skel_yx) == 0:
            continue
        y, x = skel_yx[:, 0], skel_yx[:, 1]
        line_yx = centralize(skel_yx, cos[y, x].reshape(-1, 1), -sin[y, x].reshape(-1, 1),
                             radius_map[y, x].reshape(-1, 1), inst_center)
        y, x = line_yx[:, 0], line_yx[:, 1]
        radius = (radius_map[y, x] * radius_shrink_ratio).reshape(-1, 1)
        score = center_score[y, x].reshape(-1, 1)
        disks = merge_disks(np.hstack([np.fliplr(line_yx), radius, score]), disk_overlap_thr)
        inst = np.zeros(center_mask.shape, np.uint8)
        for dx, dy, r, _s in disks:
            if r > 1:
                cv2.circle(inst, (int(dx), int(dy)), int(r), 1, -1)
        found, _ = cv2.findContours(inst, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
        inst_score = np.sum(inst * text_score) / (np.sum(inst) + 1e-8)
        if found and cv2.contourArea(found[0]) > 0 and found[0].size > 8:
            poly = found[0].reshape(-1, 2).astype(np.float64) / sf
            polygons.append(poly.astype(np.float32))
            scores.append(float(inst_score))
    return polygons, scores
