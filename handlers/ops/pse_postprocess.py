"""PSENet post-processing (progressive scale expansion): (n, H, W) logits -> polygons.

Follows the PSENet paper and MMOCR 1.0.1's ``PSEPostprocessor`` defaults (kernel
confidence 0.5, score threshold 0.3, min kernel area 0, min text area 16,
downsample ratio 0.25). Pure numpy / OpenCV.

Behaviour kept to give MMOCR's results:
  * all maps are sigmoid(logits) > 0.5, each ANDed with the text map (channel 0);
    seeds are the 4-connected components of the smallest kernel (last channel);
  * expansion is a breadth-first growth over 4-neighbours, seeds queued in raster
    order, first come first served. mmcv 2.0.1's ``contour_expand`` computes its
    per-kernel offsets with a ``std::for_each`` whose lambda returns instead of
    assigning, so every offset stays 0 and *every* expansion step reads kernel 0, i.e.
    the text map itself: the seeds grow straight into the whole text mask. That is what
    MMOCR outputs and what ``expand_mode='mmcv'`` (the default) reproduces;
    ``expand_mode='paper'`` expands kernel by kernel (n-2 ... 0) as the paper describes;
  * an instance is kept when ``area >= min_text_area or mean score > score_threshold``
    (MMOCR's ``not (a or b)`` filter: either condition suffices), score = float32 mean
    of the text probability over its pixels;
  * boundaries as in PANet (``handlers.ops.pan_postprocess.points_to_boundary``),
    divided by ``downsample_ratio`` times the scale factor.
"""
from __future__ import annotations

from collections import deque
from typing import Sequence

import cv2
import numpy as np

from handlers.ops.pan_postprocess import points_to_boundary, sigmoid


def contour_expand(kernel_masks: np.ndarray, kernel_label: np.ndarray, min_kernel_area: int,
                   region_num: int, expand_mode: str = "mmcv") -> np.ndarray:
    """Grow the labels of the smallest kernel through the larger kernels (BFS)."""
    if expand_mode not in ("mmcv", "paper"):
        raise ValueError(f"expand_mode must be 'mmcv' or 'paper', got {expand_mode!r}")
    n, h, w = kernel_masks.shape
    area = np.bincount(kernel_label.ravel(), minlength=region_num + 1)
    keep = (kernel_label > 0) & (area[kernel_label] >= min_kernel_area)
    labels = np.where(keep, kernel_label, 0).astype(np.int32)
    ys, xs = np.nonzero(keep)
    queue = deque(zip(ys.tolist(), xs.tolist()))
    for kernel_id in range(n - 2, -1, -1):
        mask = kernel_masks[0 if expand_mode == "mmcv" else kernel_id]
        next_queue: deque = deque()
        while queue:
            y, x = queue.popleft()
            lab = labels[y, x]
            is_edge = True
            for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                ty, tx = y + dy, x + dx
                if ty < 0 or ty >= h or tx < 0 or tx >= w:
                    continue
                if not mask[ty, tx] or labels[ty, tx] > 0:
                    continue
                queue.append((ty, tx))
                labels[ty, tx] = lab
                is_edge = False
            if is_edge:
                next_queue.append((y, x))
        queue = next_queue
    return labels


def pse_postprocess(logits: np.ndarray, text_repr_type: str = "poly",
                    min_kernel_confidence: float = 0.5, score_threshold: float = 0.3,
                    min_kernel_area: int = 0, min_text_area: int = 16,
                    downsample_ratio: float = 0.25,
                    scale_factor: Sequence[float] = (1.0, 1.0), expand_mode: str = "mmcv"
                    ) -> tuple[list[np.ndarray], list[float]]:
    """(n, H, W) PSE head logits of one image -> (polygons (k, 2) float32, scores)."""
    logits = np.asarray(logits, dtype=np.float32)
    if logits.ndim != 3 or logits.shape[0] < 2:
        raise ValueError(f"expected (n>=2, H, W) logits, got {logits.shape}")
    prob = sigmoid(logits)
    masks = prob > min_kernel_confidence
    kernel_masks = (masks & masks[0][None]).astype(np.uint8)
    score = prob[0]
    region_num, seeds = cv2.connectedComponents(kernel_masks[-1], connectivity=4)
    labels = contour_expand(kernel_masks, seeds, min_kernel_area, region_num, expand_mode)
    scale = np.array([scale_factor[0] * downsample_ratio, scale_factor[1] * downsample_ratio])
    polygons: list[np.ndarray] = []
    scores: list[float] = []
    for lab in range(1, int(labels.max()) + 1):
        sel = labels == lab
        ys, xs = np.nonzero(sel)
        area = len(xs)
        instance_score = np.mean(score[sel])  # float32, as MMOCR
        if not (area >= min_text_area or instance_score > score_threshold):
            continue
        boundary = points_to_boundary(np.stack([xs, ys], axis=1), text_repr_type)
        if boundary:
            poly = np.asarray(boundary, dtype=np.float64).reshape(-1, 2) / scale
            polygons.append(poly.astype(np.float32))
            scores.append(float(instance_score))
    return polygons, scores
