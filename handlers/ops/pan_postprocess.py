"""PANet post-processing (pixel aggregation): (6, H, W) logits -> polygons, scores.

Follows the PAN paper's pixel aggregation and MMOCR 1.0.1's ``PANPostprocessor``
defaults (text/kernel confidence 0.5, embedding distance 3.0, min area 16 pixels,
mean-score threshold 0.3, downsample ratio 0.25). Pure numpy / OpenCV.

Behaviour kept to give MMOCR's results:
  * text and kernel maps are the sigmoid of channels 0 and 1, kernel = kernel & text;
    the embeddings (channels 2..) are zeroed outside the text mask;
  * kernels are the 4-connected components of the kernel mask; the kernel pixels on
    their contour (OpenCV ``findContours(RETR_LIST, CHAIN_APPROX_NONE)`` drawn with
    thickness 1) seed a breadth-first growth, in raster order, into 4-neighbours that
    are text, unlabelled and within ``distance_threshold`` (squared L2 distance <
    threshold^2) of the kernel's mean embedding; first come, first served;
  * each instance's score is the mean text probability of its pixels; instances with
    fewer than ``min_text_area`` pixels or score <= ``score_threshold`` are dropped;
  * 'quad' boundaries are ``cv2.boxPoints(cv2.minAreaRect(points))`` (MMOCR's vertex
    order), 'poly' the first external contour of the pixel mask; coordinates are
    divided by ``downsample_ratio`` (times the image scale factor).
"""
from __future__ import annotations

from collections import deque
from typing import Sequence

import cv2
import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def points_to_boundary(points: np.ndarray, text_repr_type: str,
                       min_width: float = 0) -> list[float]:
    """MMOCR's ``_points2boundary``: (n, 2) integer (x, y) pixels -> flat boundary.

    Returns [] when there is no boundary with at least 4 vertices.
    """
    if text_repr_type == "quad":
        rect = cv2.minAreaRect(points)
        boundary = cv2.boxPoints(rect).flatten().tolist() if min(rect[1]) >= min_width else []
    elif text_repr_type == "poly":
        height = int(points[:, 1].max()) + 10
        width = int(points[:, 0].max()) + 10
        mask = np.zeros((height, width), np.uint8)
        mask[points[:, 1], points[:, 0]] = 255
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boundary = contours[0].flatten().tolist()
    else:
        raise ValueError(f"text_repr_type must be 'quad' or 'poly', got {text_repr_type!r}")
    return boundary if len(boundary) >= 8 else []


def pixel_group(score: np.ndarray, text: np.ndarray, embedding: np.ndarray,
                kernel_label: np.ndarray, kernel_contour: np.ndarray, region_num: int,
                distance_threshold: float) -> np.ndarray:
    """Grow kernel labels into the text mask; returns the (H, W) int32 instance labels."""
    h, w = text.shape
    labels = kernel_label.astype(np.int32).copy()
    dim = embedding.shape[0]
    means = np.zeros((max(region_num, 1), dim), dtype=np.float64)
    for lab in range(1, region_num):
        sel = kernel_label == lab
        means[lab] = embedding[:, sel].astype(np.float64).mean(axis=1)
    thr2 = float(distance_threshold) ** 2
    ys, xs = np.nonzero((kernel_label > 0) & (kernel_contour > 0))  # raster order
    queue = deque(zip(ys.tolist(), xs.tolist(), kernel_label[ys, xs].tolist()))
    emb = np.ascontiguousarray(embedding.transpose(1, 2, 0)).astype(np.float64)
    while queue:
        y, x, lab = queue.popleft()
        for dy, dx in ((0, -1), (0, 1), (-1, 0), (1, 0)):
            ty, tx = y + dy, x + dx
            if ty < 0 or ty >= h or tx < 0 or tx >= w:
                continue
            if not text[ty, tx] or labels[ty, tx] > 0:
                continue
            diff = means[lab] - emb[ty, tx]
            if float(diff @ diff) >= thr2:
                continue
            labels[ty, tx] = lab
            queue.append((ty, tx, lab))
    return labels


def pan_postprocess(logits: np.ndarray, text_repr_type: str = "poly",
                    score_threshold: float = 0.3, min_text_confidence: float = 0.5,
                    min_kernel_confidence: float = 0.5, distance_threshold: float = 3.0,
                    min_text_area: int = 16, downsample_ratio: float = 0.25,
                    scale_factor: Sequence[float] = (1.0, 1.0)
                    ) -> tuple[list[np.ndarray], list[float]]:
    """(C>=3, H, W) PAN head logits of one image -> (polygons (k, 2) float32, scores).

    ``scale_factor`` = (w_scale, h_scale) of the test resize; polygons are returned in
    original-image pixels (divided by ``scale_factor * downsample_ratio``).
    """
    logits = np.asarray(logits, dtype=np.float32)
    if logits.ndim != 3 or logits.shape[0] < 3:
        raise ValueError(f"expected (C>=3, H, W) logits, got {logits.shape}")
    text_score = sigmoid(logits[0])
    text = text_score > min_text_confidence
    kernel = (sigmoid(logits[1]) > min_kernel_confidence) & text
    embedding = logits[2:] * text.astype(np.float32)
    region_num, kernel_label = cv2.connectedComponents(kernel.astype(np.uint8),
                                                       connectivity=4)
    contours, _ = cv2.findContours(kernel.astype(np.uint8) * 255, cv2.RETR_LIST,
                                   cv2.CHAIN_APPROX_NONE)
    kernel_contour = np.zeros(text.shape, dtype=np.uint8)
    cv2.drawContours(kernel_contour, contours, -1, 255)
    labels = pixel_group(text_score, text, embedding, kernel_label, kernel_contour,
                         region_num, distance_threshold)
    scale = np.array([scale_factor[0] * downsample_ratio, scale_factor[1] * downsample_ratio])
    polygons: list[np.ndarray] = []
    scores: list[float] = []
    for lab in range(1, region_num):
        ys, xs = np.nonzero(labels == lab)  # raster order, as MMOCR collects them
        area = len(xs)
        if area == 0:
            continue
        confidence = float(text_score[ys, xs].astype(np.float64).mean())
        if area < min_text_area or confidence <= score_threshold:
            continue
        points = np.stack([xs, ys], axis=1).astype(np.int32)
        boundary = points_to_boundary(points, text_repr_type)
        if boundary:
            poly = (np.asarray(boundary, dtype=np.float64).reshape(-1, 2) / scale)
            polygons.append(poly.astype(np.float32))
            scores.append(confidence)
    return polygons, scores
