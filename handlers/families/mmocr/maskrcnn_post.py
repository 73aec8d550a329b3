"""Mask R-CNN post-processing in numpy / OpenCV: paste masks, threshold, trace polygons.

* ``paste_mask``: what mmdet's ``_do_paste_mask`` computes (``grid_sample``, bilinear,
  zero padding, ``align_corners=False``) for one box: image pixel centres (x + 0.5) are
  mapped linearly onto the box and sampled from the 28x28 mask; only the window
  ``[floor(x1) - 1, ceil(x2) + 1)`` (clipped to the image) is computed, the rest is 0.
  Bilinear sampling is separable, so the window is ``Wy @ mask @ Wx.T``.
* ``mask_polygons``: mmdet's ``bitmap_to_polygon`` as used by MMOCR's ``MMDetWrapper``:
  every contour of ``findContours(RETR_CCOMP, CHAIN_APPROX_NONE)`` (hole boundaries
  included) becomes a polygon with the instance's score; fewer than 3 points are dropped.
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np


def _axis_weights(centres: np.ndarray, lo: float, hi: float, size: int) -> np.ndarray:
    """(len(centres), size) bilinear weights of grid_sample (zeros padding) along one axis."""
    grid = (centres - np.float32(lo)) / np.float32(hi - lo) * np.float32(2) - np.float32(1)
    coord = ((grid + np.float32(1)) * np.float32(size) - np.float32(1)) / np.float32(2)
    low = np.floor(coord)
    frac = (coord - low).astype(np.float32)
    weights = np.zeros((len(centres), size), np.float32)
    rows = np.arange(len(centres))
    for idx, w in ((low.astype(np.int64), 1 - frac), (low.astype(np.int64) + 1, frac)):
        inside = (idx >= 0) & (idx < size)
        weights[rows[inside], idx[inside]] += w[inside]
    return weights


def paste_mask(mask: np.ndarray, box: Sequence[float], img_h: int, img_w: int
               ) -> tuple[np.ndarray, tuple[int, int]]:
    """(m, m) probabilities in box (x1, y1, x2, y2) -> (window probabilities, (x0, y0) of it)."""
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box, np.float32))
    x0_int, y0_int = max(math.floor(x1) - 1, 0), max(math.floor(y1) - 1, 0)
    x1_int, y1_int = min(math.ceil(x2) + 1, img_w), min(math.ceil(y2) + 1, img_h)
    if x1_int <= x0_int or y1_int <= y0_int or x2 <= x1 or y2 <= y1:
        return np.zeros((0, 0), np.float32), (x0_int, y0_int)
    wy = _axis_weights(np.arange(y0_int, y1_int, dtype=np.float32) + np.float32(0.5),
                       y1, y2, mask.shape[0])
    wx = _axis_weights(np.arange(x0_int, x1_int, dtype=np.float32) + np.float32(0.5),
                       x1, x2, mask.shape[1])
    return wy @ mask.astype(np.float32) @ wx.T, (x0_int, y0_int)


def mask_polygons(binary: np.ndarray, offset: tuple[int, int] = (0, 0)) -> list[np.ndarray]:
    """Every contour (outer and hole) of a binary mask with >= 3 points, as (k, 2) float32."""
    contours, hierarchy = cv2.findContours(np.ascontiguousarray(binary, dtype=np.uint8),
                                           cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE, offset=offset)
    if hierarchy is None:
        return []
    return [c.reshape(-1, 2).astype(np.float32) for c in contours if len(c) >= 3]


def maskrcnn_postprocess(boxes: np.ndarray, scores: np.ndarray, masks: np.ndarray,
                         img_shape: tuple[int, int], scale_factor: tuple[float, float],
                         mask_thr_binary: float = 0.5, text_repr_type: str = "poly"
                         ) -> tuple[list[np.ndarray], list[float]]:
    """Boxes / masks in the resized image -> (polygons in original pixels, scores).

    ``scale_factor`` = (w, h) of the test resize; the original size is the resized one
    divided by it, rounded."""
    if text_repr_type != "poly":
        raise ValueError(f"text_repr_type {text_repr_type!r} not supported; supported: 'poly'")
    sw, sh = scale_factor
    img_h, img_w = round(img_shape[0] / sh), round(img_shape[1] / sw)
    orig = np.asarray(boxes, np.float32).reshape(-1, 4) / np.asarray([sw, sh, sw, sh], np.float32)
    polygons: list[np.ndarray] = []
    out_scores: list[float] = []
    for box, score, mask in zip(orig, scores, masks):
        probs, offset = paste_mask(mask, box, img_h, img_w)
        if probs.size == 0:
            continue
        found = mask_polygons(probs >= mask_thr_binary, offset)
        polygons += found
        out_scores += [float(score)] * len(found)
    return polygons, out_scores


def decode_maskrcnn(outputs: Sequence, params: dict, scale: tuple[float, float]
                    ) -> tuple[list[np.ndarray], list[float]]:
    """mmocr_det Decoder: the first MaskRCNNOutput of `MaskRCNN.detect` -> polygons, scores."""
    out = outputs[0]
    return maskrcnn_postprocess(np.asarray(out.boxes), np.asarray(out.scores), np.asarray(out.masks),
                                out.img_shape, scale, **params)
