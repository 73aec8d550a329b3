"""DRRG proposals + linking on real text layouts: the ICDAR 2015 toy images' ground truth.

The six DRRG maps a perfect network would predict are drawn from each image's
ground-truth words (at DRRG's test scale: 1280x720 -> 1024x576): text region = the
word quad, center region = its middle third across the height, (cos, sin) = the unit
normal towards the word's top side, top / bottom heights = distances to the top /
bottom side. A perfect GCN is stood in for by the ground truth: a link scores 1 when
both components lie in the same word. What remains is the code under test
(component proposals, LA-NMS, local graphs, clustering, chaining, boundary,
rescaling), which must give back every word (IoU >= 0.75) and nothing else.

Achieved: 21/21 words, no extra polygon, IoU 0.80-0.93, ~2 s for the 10 images.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from shapely.geometry import Polygon

from handlers.families.mmocr.drrg import DEFAULT_CFGS, drrg_params_kwargs
from handlers.families.mmocr.drrg_graph import build_local_graphs
from handlers.families.mmocr.drrg_proposals import ProposalParams, propose_components
from handlers.ops.drrg_postprocess import drrg_postprocess
from service.tooling.evaluation.datasets import load_icdar2015_dir

NAME = "drrg_resnet50_fpn-unet_1200e_ctw1500"
ICDAR = Path(__file__).resolve().parents[5] / "shared" / "data" / "mmocr" / "0.x" / "toy_dataset"
pytestmark = pytest.mark.skipif(not ICDAR.is_dir(), reason=f"toy ICDAR 2015 data not at {ICDAR}")


def _line_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = b - a
    return np.abs((points[:, 0] - a[0]) * d[1] - (points[:, 1] - a[1]) * d[0]) / np.hypot(*d)


def ground_truth_maps(quads: list[np.ndarray], shape: tuple[int, int]):
    """(6, H, W) maps and the word label of every pixel, from (4, 2) tl, tr, br, bl quads."""
    h, w = shape
    maps = np.zeros((6, h, w), np.float32)
    maps[0] = maps[1] = -10.0
    labels = np.zeros((h, w), np.int32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    pixels = np.stack([xs, ys], -1)
    for label, (tl, tr, br, bl) in enumerate(quads, 1):
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.round(np.stack([tl, tr, br, bl])).astype(np.int32)], 1)
        inside = mask > 0
        top = _line_distance(pixels[inside], tl, tr)
        bot = _line_distance(pixels[inside], bl, br)
        normal = np.array([-(tr - tl)[1], (tr - tl)[0]]) / np.linalg.norm(tr - tl)
        if np.dot(normal, (tl + tr - bl - br) / 2) < 0:
            normal = -normal
        center = np.zeros((h, w), bool)
        center[inside] = np.minimum(top, bot) >= (top + bot) / 3
        maps[0][inside], maps[1][center] = 10.0, 10.0
        maps[2][inside], maps[3][inside] = normal[1], normal[0]
        maps[4][inside], maps[5][inside] = top, bot
        labels[inside] = label
    return maps, labels


def _detect_words(image_path: Path, words) -> tuple[list[np.ndarray], list[np.ndarray]]:
    height, width = cv2.imread(str(image_path)).shape[:2]
    factor = min(1024 / max(height, width), 640 / min(height, width))  # Resize (1024, 640)
    h, w = int(height * factor + 0.5), int(width * factor + 0.5)
    gt = [np.array(g.polygon, np.float32).reshape(4, 2) for g in words if not g.ignored]
    maps, labels = ground_truth_maps([q * factor for q in gt], (h, w))
    attribs, comps = propose_components(maps, ProposalParams(**DEFAULT_CFGS[NAME]["proposals"]))
    if len(comps) < 2:
        return gt, []
    nodes, _, knn = build_local_graphs(attribs[:, :2])
    edges = np.stack([np.repeat(nodes[:, 0], knn.shape[1]),
                      np.take_along_axis(nodes, knn, 1).ravel()], 1)
    word = labels[attribs[:, 1].astype(int), attribs[:, 0].astype(int)]
    links = ((word[edges[:, 0]] == word[edges[:, 1]]) & (word[edges[:, 0]] > 0)).astype(float)
    polygons, _ = drrg_postprocess(edges, links, comps, scale_factor=(w / width, h / height),
                                   **drrg_params_kwargs(NAME))
    return gt, polygons


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    pa, pb = Polygon(a).buffer(0), Polygon(b).buffer(0)
    return pa.intersection(pb).area / pa.union(pb).area


def test_ground_truth_maps_give_back_every_word():
    total = 0
    for image_path, words in load_icdar2015_dir(ICDAR):
        gt, polygons = _detect_words(image_path, words)
        assert len(polygons) == len(gt), image_path.name
        if gt:
            iou = np.array([[_iou(g, p) for p in polygons] for g in gt])
            assert sorted(iou.argmax(1).tolist()) == list(range(len(gt))), image_path.name
            assert iou.max(1).min() >= 0.75, (image_path.name, iou.max(1))
        total += len(gt)
    assert total == 21
