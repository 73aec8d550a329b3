"""RoIAlign in torch: what mmcv's ``RoIAlign`` (pool_mode 'avg') computes, for every family.

For each RoI (batch_idx, x1, y1, x2, y2) in input coordinates:
  * scaled to the feature map by ``spatial_scale``; with ``aligned=True`` half a pixel is
    subtracted from every coordinate (pixel-centre model) and the size is not clamped, with
    ``aligned=False`` the size is clamped to at least 1;
  * the RoI is cut into ``output_size`` bins; each bin averages ``gh x gw`` bilinear samples at
    the centres of a regular sub-grid, ``gh = sampling_ratio`` if > 0 else
    ``ceil(roi_h / out_h)`` (likewise for the width), i.e. an adaptive count per RoI;
  * a sample with y < -1, y > H, x < -1 or x > W contributes 0; otherwise negative coordinates
    are clamped to 0 and coordinates beyond the last pixel use the last pixel;
  * the bin value is the sum of its samples divided by max(gh * gw, 1).

Axis-aligned bilinear sampling is separable, so each RoI is ``Wy @ F @ Wx.T`` with per-axis
weight matrices restricted to the window of rows / columns its samples touch: one pair of
matrix products per RoI instead of a gather per sample, and the same in the backward pass.
Coordinates are float32 as in the reference kernel, so results agree with it to rounding.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def _axis_weights(start: np.float32, length: np.float32, out: int, size: int,
                  sampling_ratio: int) -> np.ndarray:
    """(out, size) averaged bilinear weights of RoIAlign's samples along one axis."""
    weights = np.zeros((out, size), np.float32)
    bin_size = np.float32(length / np.float32(out))
    grid = sampling_ratio if sampling_ratio > 0 else math.ceil(bin_size)
    if grid <= 0:
        return weights  # an empty RoI: the reference divides a zero sum by 1
    p = np.arange(out, dtype=np.float32)[:, None]
    i = np.arange(grid, dtype=np.float32)[None, :]
    coord = start + p * bin_size + (i + np.float32(0.5)) * bin_size / np.float32(grid)
    valid = ((coord >= -1) & (coord <= size)).astype(np.float32)
    coord = np.maximum(coord, 0)
    low = np.floor(coord).astype(np.int64)
    at_end = low >= size - 1
    low = np.where(at_end, size - 1, low)
    high = np.where(at_end, low, low + 1)
    frac = np.where(at_end, 0, coord - low).astype(np.float32)
    rows = np.broadcast_to(np.arange(out)[:, None], low.shape)
    np.add.at(weights, (rows, low), (1 - frac) * valid)
    np.add.at(weights, (rows, high), frac * valid)
    return weights / np.float32(grid)


class _SeparableRoIAlign(torch.autograd.Function):
    """Forward: ``Wy @ window @ Wx.T`` per RoI. Backward: ``Wy.T @ grad @ Wx`` added into one
    gradient map; autograd's own backward of the window slices would allocate and zero a
    full-size map per RoI (a quarter of a unet16 SDMG-R training step)."""

    @staticmethod
    def forward(ctx, features, plan, out_shape):
        out = features.new_zeros(out_shape)
        for k, b, r0, c0, wy, wx in plan:
            window = features[b, :, r0:r0 + wy.shape[1], c0:c0 + wx.shape[1]]
            out[k] = torch.matmul(torch.matmul(wy, window), wx.T)
        ctx.plan, ctx.features_shape = plan, features.shape
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        grad = grad_out.new_zeros(ctx.features_shape)
        for k, b, r0, c0, wy, wx in ctx.plan:
            grad[b, :, r0:r0 + wy.shape[1], c0:c0 + wx.shape[1]] += torch.matmul(
                torch.matmul(wy.T, grad_out[k]), wx)
        return grad, None, None


def roi_align(features: torch.Tensor, rois: torch.Tensor, output_size: int | tuple[int, int],
              spatial_scale: float = 1.0, sampling_ratio: int = 0,
              aligned: bool = True) -> torch.Tensor:
    """features (N, C, H, W), rois (K, 5) (batch index, x1, y1, x2, y2) -> (K, C, out_h, out_w).

    Differentiable in ``features`` (not in ``rois``, as in mmcv)."""
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    _, channels, height, width = features.shape
    scale, offset = np.float32(spatial_scale), np.float32(0.5 if aligned else 0.0)
    plan = []  # (k, image, first row, first column, Wy window, Wx window) of each non-empty RoI
    for k, roi in enumerate(rois.detach().cpu().numpy().astype(np.float32)):
        x1, y1, x2, y2 = roi[1:] * scale - offset
        roi_w, roi_h = x2 - x1, y2 - y1
        if not aligned:
            roi_w, roi_h = max(roi_w, np.float32(1)), max(roi_h, np.float32(1))
        wy = _axis_weights(y1, roi_h, out_h, height, sampling_ratio)
        wx = _axis_weights(x1, roi_w, out_w, width, sampling_ratio)
        rows, cols = np.flatnonzero(wy.any(axis=0)), np.flatnonzero(wx.any(axis=0))
        if rows.size == 0 or cols.size == 0:
            continue
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        plan.append((k, int(roi[0]), int(r0), int(c0),
                     torch.from_numpy(np.ascontiguousarray(wy[:, r0:r1])).to(features),
                     torch.from_numpy(np.ascontiguousarray(wx[:, c0:c1])).to(features)))
    return _SeparableRoIAlign.apply(features, plan, (rois.shape[0], channels, out_h, out_w))
