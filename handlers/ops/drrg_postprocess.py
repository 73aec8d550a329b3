"""DRRG post-processing: linked text components -> polygons (MMOCR ``DRRGPostprocessor``).

Follows the DRRG paper (Zhang et al., CVPR 2020) and MMOCR 1.0.1's
``DRRGPostprocessor`` (link_thr 0.8 in the CTW1500 config, edge_len_thr 50). Pure
numpy / OpenCV. The inputs come from ``DRRG.detect`` in
``handlers.families.mmocr.drrg``: component proposals
(``handlers.families.mmocr.drrg_proposals``), local graphs and GCN link scores.

``drrg_postprocess`` (edges, link scores, components): links longer than
edge_len_thr px score 0, duplicate links are averaged, components joined by links
with score >= link_thr are clustered (union-find), single-component clusters are
dropped; each cluster's components are chained greedily by nearest centre, the
polygon is the chain of top-side midpoints then the reversed bottom-side midpoints,
extended by the end rectangles' outer corners when an end falls outside.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np


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
