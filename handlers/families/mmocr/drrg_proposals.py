"""DRRG text-component proposals (MMOCR ``ProposalLocalGraphs`` test path), pure numpy.

Written from the DRRG paper (Zhang et al., CVPR 2020) and MMOCR 1.0.1's defaults;
``propose_components`` (maps of one image, ``ProposalParams``):
  * text = sigmoid(ch 0), center = sigmoid(ch 1); masks text > text_region_thr,
    center > center_region_thr inside the text mask, holes filled; sin / cos
    (ch 2, 3) normalised to unit length; top / bottom heights ch 4, 5;
  * each center-region contour of area > center_region_area_thr proposes one
    rectangle per pixel (row-major order, what MMOCR's sort by row gives with numpy
    2.4) whose text score > comp_score_thr: sides at (x + t cos, y + t sin) and
    (x - b cos, y - b sin) with t, b the top / bottom heights * comp_shrink_ratio,
    width clip((t + b) * comp_w_h_ratio, min_width, max_width);
  * locality-aware NMS (``la_nms``: consecutive rectangles with IoU > nms_thr are
    averaged weighted by score, scores summed, then greedy NMS); a contour whose
    rectangles lie less than half inside the text mask is dropped;
  * component score = mean text probability inside its rectangle (clipped to the
    image); attributes (x, y, h, w, cos, sin) at the integer centre, h unshrunk.
  * Cost guards (MMOCR has none and ran > 15 minutes on random maps): when more
    than ``max_proposals`` (50000) pixels would propose a rectangle, only pixels on
    a regular sub-grid (stride s, the smallest with about max_proposals pixels)
    propose; at most ``max_components`` (1000) components per image are kept
    (highest scores) for the graph stage. NMS never compares all n^2 pairs.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import shapely

from handlers.ops.fce_postprocess import fill_hole
from handlers.ops.pan_postprocess import sigmoid


@dataclass(frozen=True)
class ProposalParams:
    """DRRGHead test-time settings (MMOCR defaults; the CTW1500 config sets 0.3 / 0.4)."""

    text_region_thr: float = 0.2
    center_region_thr: float = 0.2
    center_region_area_thr: int = 50
    comp_score_thr: float = 0.3
    nms_thr: float = 0.3
    min_width: float = 8.0
    max_width: float = 24.0
    comp_shrink_ratio: float = 1.03
    comp_w_h_ratio: float = 0.4
    max_components: int = 1000
    max_proposals: int = 50000


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _inside(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """(K, m, 2) points in (K, 4, 2) counter-clockwise convex quads (boundary counts)."""
    edges = np.roll(poly, -1, axis=1) - poly
    rel = points[:, :, None, :] - poly[:, None, :, :]
    return (_cross(edges[:, None], rel) >= -1e-9).all(-1)


def convex_quad_intersection(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Intersection areas of pairs of counter-clockwise convex quads (K, 4, 2) -> (K,).

    The intersection is the convex hull of the vertices of each inside the other
    and the edge crossings: those points, sorted by angle around their mean, give
    the area by the shoelace formula.
    """
    p1, q1 = p[:, :, None, :], q[:, None, :, :]
    r = np.roll(p, -1, axis=1)[:, :, None, :] - p1
    s = np.roll(q, -1, axis=1)[:, None, :, :] - q1
    denom = _cross(r, s)
    ok = np.abs(denom) > 1e-12
    safe = np.where(ok, denom, 1.0)
    t, u = _cross(q1 - p1, s) / safe, _cross(q1 - p1, r) / safe
    ok &= (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
    crossings = (p1 + t[..., None] * r).reshape(len(p), 16, 2)
    pts = np.concatenate([p, q, crossings], axis=1)
    valid = np.concatenate([_inside(p, q), _inside(q, p), ok.reshape(len(p), 16)], axis=1)
    count = valid.sum(1)
    centre = (pts * valid[..., None]).sum(1) / np.maximum(count, 1)[:, None]
    angle = np.arctan2(pts[..., 1] - centre[:, None, 1], pts[..., 0] - centre[:, None, 0])
    order = np.argsort(np.where(valid, angle, np.inf), axis=1)
    pts = np.take_along_axis(pts, order[..., None], axis=1)
    last = pts[np.arange(len(p)), np.maximum(count - 1, 0)]
    pts = np.where((np.arange(pts.shape[1])[None] < count[:, None])[..., None], pts,
                   last[:, None, :])  # padding repeats the last point: zero area
    area = 0.5 * np.abs(_cross(pts, np.roll(pts, -1, axis=1)).sum(1))
    return np.where(count >= 3, area, 0.0)


def _convex_ccw(quads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quads turned counter-clockwise (y up) and whether each is convex."""
    area2 = _cross(quads, np.roll(quads, -1, axis=1)).sum(1)
    quads = np.where((area2 < 0)[:, None, None], quads[:, ::-1], quads)
    edges = np.roll(quads, -1, axis=1) - quads
    turns = _cross(edges, np.roll(edges, -1, axis=1))
    return quads, (turns >= -1e-9).all(1)


def _iou_over(quads, convex, geoms, areas, bounds, i, j, thr: float) -> np.ndarray:
    """IoU(i, j) > thr, computed only where the bounding-box overlap and the smaller
    area could reach thr * the larger area (necessary conditions); shapely for
    non-convex quads."""
    lo = np.maximum(bounds[i, :2], bounds[j, :2])
    hi = np.minimum(bounds[i, 2:], bounds[j, 2:])
    box_inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    larger = thr * np.maximum(areas[i], areas[j])
    over = (box_inter > larger) & (np.minimum(areas[i], areas[j]) > larger)
    i, j = i[over], j[over]
    inter = np.zeros(len(i))
    fast = np.flatnonzero(convex[i] & convex[j])
    for c in range(0, len(fast), 16384):  # chunks keep the temporaries small
        sel = fast[c:c + 16384]
        inter[sel] = convex_quad_intersection(quads[i[sel]], quads[j[sel]])
    fast = np.isin(np.arange(len(i)), fast)
    if (~fast).any():
        inter[~fast] = shapely.area(shapely.intersection(geoms[i[~fast]], geoms[j[~fast]]))
    union = areas[i] + areas[j] - inter
    over[over] = inter > thr * np.where(union > 0, union, np.inf)
    return over


def quad_nms(quads: np.ndarray, scores: np.ndarray, thr: float) -> np.ndarray:
    """Greedy NMS (best score first, IoU > thr removed) -> kept indices.

    Candidate pairs (bounding boxes touching) come from an STRtree: all at once when
    there are few per quad, else per kept quad (crowded, mostly suppressed quads);
    never all n^2 pairs.
    """
    geoms = shapely.polygons(np.asarray(quads, np.float64).reshape(-1, 4, 2))
    bad = ~shapely.is_valid(geoms)
    if bad.any():  # self-intersecting quads: repaired like MMOCR's polygon code
        geoms[bad] = shapely.convex_hull(shapely.buffer(geoms[bad], 0))
    areas, bounds, tree = shapely.area(geoms), shapely.bounds(geoms), shapely.STRtree(geoms)
    ccw, convex = _convex_ccw(np.asarray(quads, np.float64).reshape(-1, 4, 2))
    args = (ccw, convex & shapely.is_valid(geoms) & ~bad, geoms, areas, bounds)
    i, j = tree.query(geoms)
    sparse = len(i) <= 32 * len(geoms)
    if sparse:
        i, j = i[i < j], j[i < j]
        over = _iou_over(*args, i, j, thr)
        i, j = np.concatenate([i[over], j[over]]), np.concatenate([j[over], i[over]])
        order = np.argsort(i, kind="stable")
        i, j = i[order], j[order]
        starts = np.searchsorted(i, np.arange(len(geoms) + 1))
    removed = np.zeros(len(geoms), bool)
    keep = []
    for k in np.argsort(-np.asarray(scores), kind="stable"):
        if removed[k]:
            continue
        keep.append(k)
        if sparse:
            removed[j[starts[k]:starts[k + 1]]] = True
        else:
            near = tree.query(geoms[k])
            near = near[~removed[near] & (near != k)]
            pivot = np.full(len(near), k)
            removed[near[_iou_over(*args, pivot, near, thr)]] = True
    return np.array(keep, np.int64)


def la_nms(comps: np.ndarray, thr: float) -> np.ndarray:
    """Locality-aware NMS of (N, 9) quads + scores, in the given order -> (M, 9).

    Each quad is merged into the previous (merged) quad when their IoU > thr: vertices
    averaged weighted by the two scores, scores summed; then greedy NMS over the
    merged quads (IoU > thr removed). (lanms works on integer vertices scaled by
    10^4, i.e. to 1e-4 px; float64 here.)
    """
    if len(comps) == 0:
        return np.zeros((0, 9), np.float32)
    quads = comps[:, :8].astype(np.float64)
    q32 = comps[:, :8].astype(np.float32).reshape(-1, 4, 2)
    areas = np.abs(_cross(q32, np.roll(q32, -1, axis=1)).sum(1)) / 2
    scores = comps[:, 8].astype(np.float64).tolist()
    merged = []
    last, last32, last_area, total = quads[0], q32[0], areas[0], scores[0]
    for k in range(1, len(comps)):
        inter = cv2.intersectConvexConvex(last32, q32[k])[0]
        union = last_area + areas[k] - inter
        if union > 0 and inter > thr * union:
            last = (last * total + quads[k] * scores[k]) / max(total + scores[k], 1e-8)
            total += scores[k]
            last32 = last.astype(np.float32).reshape(4, 2)
            last_area = abs(cv2.contourArea(last32))
        else:
            merged.append(np.append(last, total))
            last, last32, last_area, total = quads[k], q32[k], areas[k], scores[k]
    merged.append(np.append(last, total))
    merged = np.array(merged)
    return merged[quad_nms(merged[:, :8], merged[:, 8], thr)].astype(np.float32)


def _region_proposals(contour: np.ndarray, maps: dict, p: ProposalParams,
                      stride: int = 1) -> np.ndarray:
    """One rectangle (9 values) per pixel of a filled contour with text score > thr
    (only pixels whose x and y are multiples of ``stride``)."""
    x0, y0, cw, ch = cv2.boundingRect(contour)
    region = np.zeros((ch, cw), np.uint8)
    cv2.drawContours(region, [contour], -1, 1, -1, offset=(-x0, -y0))
    if region.sum() <= p.center_region_area_thr:
        return np.zeros((0, 9), np.float32)
    score_map = maps["text"][y0:y0 + ch, x0:x0 + cw] * region
    yx = np.argwhere(score_map > p.comp_score_thr)
    if stride > 1:
        yx = yx[((yx[:, 0] + y0) % stride == 0) & ((yx[:, 1] + x0) % stride == 0)]
    scores = score_map[yx[:, 0], yx[:, 1]]
    y, x = yx[:, 0] + y0, yx[:, 1] + x0
    top = maps["top"][y, x] * p.comp_shrink_ratio
    bot = maps["bot"][y, x] * p.comp_shrink_ratio
    sin, cos = maps["sin"][y, x], maps["cos"][y, x]
    r = np.clip((top + bot) * p.comp_w_h_ratio, p.min_width, p.max_width) / 2
    top_xy = np.stack([x + top * cos, y + top * sin], 1)
    bot_xy = np.stack([x - bot * cos, y - bot * sin], 1)
    half = np.stack([-r * sin, r * cos], 1)
    quads = np.hstack([top_xy - half, top_xy + half, bot_xy + half, bot_xy - half])
    return np.hstack([quads.astype(np.float32), scores[:, None]]).astype(np.float32)


def _mostly_in_text(comps: np.ndarray, text_mask: np.ndarray) -> bool:
    """Whether at least half of the drawn component area lies in the text mask."""
    quads = comps[:, :8].reshape(-1, 4, 2).astype(np.int32)
    h, w = text_mask.shape
    lo = np.maximum(quads.reshape(-1, 2).min(0), 0)
    hi = np.minimum(quads.reshape(-1, 2).max(0), [w - 1, h - 1])
    if (hi < lo).any():
        return False
    drawn = np.zeros((hi[1] - lo[1] + 1, hi[0] - lo[0] + 1), np.uint8)
    cv2.drawContours(drawn, list(quads), -1, 1, -1, offset=(-int(lo[0]), -int(lo[1])))
    inside = text_mask[lo[1]:hi[1] + 1, lo[0]:hi[0] + 1]
    return bool((drawn * inside).sum() >= drawn.sum() * 0.5)


def _comp_scores(quads: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Mean text probability inside each (clipped, integer) quad."""
    scores = np.zeros(len(quads))
    for i, quad in enumerate(quads.reshape(-1, 4, 2)):
        lo = quad.min(0).astype(np.int32)
        hi = quad.max(0).astype(np.int32)
        mask = np.zeros((hi[1] - lo[1] + 1, hi[0] - lo[0] + 1), np.uint8)
        cv2.fillPoly(mask, [(quad - lo).astype(np.int32)], 1)
        patch = text[lo[1]:hi[1] + 1, lo[0]:hi[0] + 1]
        scores[i] = cv2.mean(patch, mask)[0]
    return scores


def _split_maps(maps: np.ndarray) -> dict:
    if maps.ndim != 3 or maps.shape[0] != 6:
        raise ValueError(f"DRRG maps must be (6, H, W), got {maps.shape}")
    sin, cos = maps[2].astype(np.float32), maps[3].astype(np.float32)
    scale = np.sqrt(1.0 / (sin ** 2 + cos ** 2 + 1e-8))
    return {"text": sigmoid(maps[0]), "center": sigmoid(maps[1]), "sin": sin * scale,
            "cos": cos * scale, "top": maps[4].astype(np.float32),
            "bot": maps[5].astype(np.float32)}


def propose_components(maps: np.ndarray, params: ProposalParams = ProposalParams()
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(6, H, W) maps -> (attributes (N, 6): x, y, h, w, cos, sin; components (N, 9))."""
    m = _split_maps(np.asarray(maps))
    h, w = m["text"].shape
    text_mask = m["text"] > params.text_region_thr
    center = fill_hole((m["center"] > params.center_region_thr) & text_mask)
    contours, _ = cv2.findContours(center.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    candidates = int(np.count_nonzero(center & (m["text"] > params.comp_score_thr)))
    stride = max(1, int(np.ceil(np.sqrt(candidates / max(params.max_proposals, 1)))))
    found = []
    for contour in contours:
        proposals = _region_proposals(contour, m, params, stride)
        if not len(proposals):
            continue
        comps = la_nms(proposals, params.nms_thr)
        if _mostly_in_text(comps, text_mask):
            found.append(comps)
    if not found:
        return np.zeros((0, 6)), np.zeros((0, 9), np.float32)
    comps = np.vstack(found)
    quads = comps[:, :8].reshape(-1, 4, 2)
    centers = quads.mean(1).astype(np.int32)
    x, y = np.clip(centers[:, 0], 0, w - 1), np.clip(centers[:, 1], 0, h - 1)
    quads[..., 0] = np.clip(quads[..., 0], 0, w - 1)
    quads[..., 1] = np.clip(quads[..., 1], 0, h - 1)
    comps[:, :8] = quads.reshape(-1, 8)  # components keep the clipped corners, as in MMOCR
    comps[:, 8] = _comp_scores(quads, m["text"])
    height = m["top"][y, x] + m["bot"][y, x]
    width = np.clip(height * params.comp_w_h_ratio, params.min_width, params.max_width)
    attribs = np.stack([x, y, height, width, m["cos"][y, x], m["sin"][y, x]], 1)
    if len(comps) > params.max_components:
        keep = np.sort(np.argsort(-comps[:, 8], kind="stable")[:params.max_components])
        attribs, comps = attribs[keep], comps[keep]
    return attribs.astype(np.float64), comps
