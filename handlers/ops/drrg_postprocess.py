"""DRRG post-processing: maps -> text components; linked components -> polygons.

Follows the DRRG paper (Zhang et al., CVPR 2020) and MMOCR 1.0.1's test path
(``ProposalLocalGraphs`` proposals, ``DRRGPostprocessor`` linking). Pure numpy /
OpenCV / shapely; the GCN that scores the links is torch and lives in
``handlers.families.mmocr.drrg``.

``propose_components`` (maps of one image, ``ProposalParams``):
  * text = sigmoid(ch 0), center = sigmoid(ch 1); masks text > text_region_thr,
    center > center_region_thr inside the text mask, holes filled; sin / cos
    (ch 2, 3) normalised to unit length; top / bottom heights ch 4, 5;
  * each center-region contour of area > center_region_area_thr proposes one
    rectangle per pixel (row-major order) whose text score > comp_score_thr: height
    (top + bottom) * comp_shrink_ratio along the normal (y + h sin, x + h cos),
    width clip((top + bottom) * shrink * comp_w_h_ratio, min_width, max_width);
  * locality-aware NMS (``la_nms``: consecutive rectangles with IoU > nms_thr are
    averaged weighted by score, then greedy NMS), vertices truncated to integers;
    a contour whose rectangles lie less than half inside the text mask is dropped;
  * component score = mean text probability inside its rectangle (clipped to the
    image); attributes (x, y, h, w, cos, sin) at the integer centre, h unshrunk.
  * Cost guards (MMOCR has none and ran > 15 minutes on random maps): when more
    than ``max_proposals`` (20000) pixels would propose a rectangle, only pixels on
    a regular sub-grid (stride s, the smallest with about max_proposals pixels)
    propose; at most ``max_components`` (1000) components per image are kept
    (highest scores) for the graph stage.

``drrg_postprocess`` (edges, link scores, components): links longer than
edge_len_thr px score 0, duplicate links are averaged, components joined by links
with score >= link_thr are clustered (union-find), single-component clusters are
dropped; each cluster's components are chained greedily by nearest centre, the
polygon is the chain of top-side midpoints then the reversed bottom-side midpoints,
extended by the end rectangles' outer corners when an end falls outside.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

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
    max_proposals: int = 20000


def _quad_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two convex quads (4, 2) float32."""
    inter, _ = cv2.intersectConvexConvex(a, b)
    union = abs(cv2.contourArea(a)) + abs(cv2.contourArea(b)) - inter
    return float(inter / union) if union > 0 else 0.0


def _iou_over(geoms, areas, bounds, i: np.ndarray, j: np.ndarray, thr: float) -> np.ndarray:
    """IoU(geoms[i], geoms[j]) > thr, exact shapely IoU only where the bounding-box
    overlap could reach thr * the larger area (a necessary condition)."""
    lo = np.maximum(bounds[i, :2], bounds[j, :2])
    hi = np.minimum(bounds[i, 2:], bounds[j, 2:])
    box_inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    over = box_inter > thr * np.maximum(areas[i], areas[j])
    inter = shapely.area(shapely.intersection(geoms[i[over]], geoms[j[over]]))
    union = areas[i[over]] + areas[j[over]] - inter
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
    i, j = tree.query(geoms)
    sparse = len(i) <= 32 * len(geoms)
    if sparse:
        over = (i != j) & _iou_over(geoms, areas, bounds, i, j, thr)
        order = np.argsort(i[over], kind="stable")
        i, j = i[over][order], j[over][order]
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
            removed[near[_iou_over(geoms, areas, bounds, pivot, near, thr)]] = True
    return np.array(keep, np.int64)


def la_nms(comps: np.ndarray, thr: float) -> np.ndarray:
    """Locality-aware NMS of (N, 9) quads + scores (in order) -> (M, 9), integer vertices.

    Each quad is merged into the previous merged one when their IoU > thr (vertices
    averaged weighted by score, scores summed), then greedy NMS (IoU > thr removed).
    """
    if len(comps) == 0:
        return np.zeros((0, 9), np.float32)
    merged = []
    acc, total = comps[0, :8].astype(np.float64) * comps[0, 8], float(comps[0, 8])
    last = np.trunc(acc / max(total, 1e-8)).astype(np.float32)
    for row in comps[1:]:
        quad = np.trunc(row[:8]).astype(np.float32)
        if _quad_iou(last.reshape(4, 2), quad.reshape(4, 2)) > thr:
            acc, total = acc + quad * float(row[8]), total + float(row[8])
        else:
            merged.append(np.append(last, total))
            acc, total = quad.astype(np.float64) * float(row[8]), float(row[8])
        last = np.trunc(acc / max(total, 1e-8)).astype(np.float32)
    merged.append(np.append(last, total))
    merged = np.array(merged, np.float32)
    return merged[quad_nms(merged[:, :8], merged[:, 8], thr)]


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
    comps[:, 8] = _comp_scores(quads, m["text"])
    height = m["top"][y, x] + m["bot"][y, x]
    width = np.clip(height * params.comp_w_h_ratio, params.min_width, params.max_width)
    attribs = np.stack([x, y, height, width, m["cos"][y, x], m["sin"][y, x]], 1)
    if len(comps) > params.max_components:
        keep = np.sort(np.argsort(-comps[:, 8], kind="stable")[:params.max_components])
        attribs, comps = attribs[keep], comps[keep]
    return attribs.astype(np.float64), comps


def link_clusters(edges: np.ndarray, scores: np.ndarray, centers: np.ndarray,
                  link_thr: float = 0.8, edge_len_thr: float = 50.0) -> np.ndarray:
    """Cluster label per component (union-find over links with score >= link_thr).

    Links longer than ``edge_len_thr`` (centre distance) score 0; a link predicted
    from both ends gets the mean of its two scores. Labels are numbered by each
    cluster's smallest component index.
    """
    edges = np.sort(np.asarray(edges, np.int64).reshape(-1, 2), axis=1)
    scores = np.asarray(scores, np.float64).copy()
    length = np.linalg.norm(centers[edges[:, 0]] - centers[edges[:, 1]], axis=1)
    scores[length > edge_len_thr] = 0.0
    link_score: dict[tuple[int, int], float] = {}
    for (a, b), s in zip(edges.tolist(), scores.tolist()):
        link_score[a, b] = 0.5 * (link_score[a, b] + s) if (a, b) in link_score else s
    parent = np.arange(len(centers))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for (a, b), s in link_score.items():
        if s >= link_thr:
            ra, rb = root(a), root(b)
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([root(i) for i in range(len(centers))])
    return np.unique(roots, return_inverse=True)[1]


def chain_order(centers: np.ndarray) -> list[int]:
    """Greedy chain through the points: start at the first, repeatedly attach the
    remaining point nearest to either end (the head on ties). Points with a centre
    equal to an earlier one are left out, as in MMOCR."""
    _, first = np.unique(centers, axis=0, return_index=True)
    remaining = sorted(first.tolist())
    chain = [remaining.pop(0)]
    pts = centers.astype(np.float64)
    while remaining:
        rest = pts[remaining]
        d_head = np.linalg.norm(rest - pts[chain[0]], axis=1)
        d_tail = np.linalg.norm(rest - pts[chain[-1]], axis=1)
        if d_head.min() <= d_tail.min():
            chain.insert(0, remaining.pop(int(np.argmin(d_head))))
        else:
            chain.append(remaining.pop(int(np.argmin(d_tail))))
    return chain


def _inside(contour: np.ndarray, point: np.ndarray) -> bool:
    return cv2.pointPolygonTest(contour, (int(point[0]), int(point[1])), False) > 0.5


def _add_end_corners(top: list, bot: list, first: np.ndarray, last: np.ndarray) -> None:
    """Extend the side lines by an end rectangle's corners when its side midpoint
    (left, else right) is not strictly inside the polygon so far."""
    contour = np.array(top + bot[::-1], np.int32)
    for box, at_start in ((first, True), (last, False)):
        left, right = (box[0] + box[3]) / 2, (box[1] + box[2]) / 2
        corners = None
        if not _inside(contour, left):
            corners = (box[0].tolist(), box[3].tolist())
        elif not _inside(contour, right):
            corners = (box[1].tolist(), box[2].tolist())
        if corners is not None:
            top.insert(0 if at_start else len(top), corners[0])
            bot.insert(0 if at_start else len(bot), corners[1])


def cluster_polygon(quads: np.ndarray) -> np.ndarray:
    """(K >= 2, 4, 2) integer component quads of one text -> (P, 2) boundary."""
    quads = quads.astype(np.int32)
    order = chain_order(quads.mean(1).astype(np.int32))
    quads = quads[order]
    top = quads[:, 0:2].mean(1).astype(np.int32).tolist()
    bot = quads[:, 2:4].mean(1).astype(np.int32).tolist()
    _add_end_corners(top, bot, quads[0], quads[-1])
    return np.array(top + bot[::-1], np.float32)


def drrg_postprocess(edges: np.ndarray, scores: np.ndarray, text_comps: np.ndarray,
                     scale_factor: Sequence[float] = (1.0, 1.0), link_thr: float = 0.8,
                     edge_len_thr: float = 50.0) -> tuple[list[np.ndarray], list[float]]:
    """Graph output of one image -> ((P, 2) float32 polygons in original pixels, scores).

    ``scale_factor`` = (w, h) of the test resize; a text's score is the mean score
    of its components.
    """
    text_comps = np.asarray(text_comps, np.float32).reshape(-1, 9)
    if len(text_comps) < 2 or len(edges) == 0:
        return [], []
    quads = text_comps[:, :8].reshape(-1, 4, 2)
    labels = link_clusters(edges, scores, quads.mean(1), link_thr, edge_len_thr)
    polygons, poly_scores = [], []
    sx, sy = float(scale_factor[0]), float(scale_factor[1])
    for label in range(labels.max() + 1):
        members = np.flatnonzero(labels == label)
        if len(members) < 2:
            continue  # isolated components are dropped
        poly = cluster_polygon(quads[members])
        polygons.append((poly / np.array([sx, sy], np.float32)).astype(np.float32))
        poly_scores.append(float(text_comps[members, 8].mean()))
    return polygons, poly_scores
