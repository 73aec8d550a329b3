"""RoIAlign in plain PyTorch, computing what mmcv's ``RoIAlign`` (pool_mode 'avg') computes.

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
All bins of a RoI are computed at once per sub-grid sample (a gather of the four taps).
"""
from __future__ import annotations

import math

import torch
from torch import nn


def _axis_samples(start: torch.Tensor, bin_size: torch.Tensor, out: int, grid: int, size: int):
    """Sample positions along one axis, shaped (out, grid): (low, high, w_low, w_high).

    Out-of-range samples (< -1 or > size) get zero weights, as in the reference kernel."""
    dtype = start.dtype
    p = torch.arange(out, dtype=dtype)[:, None]
    i = torch.arange(grid, dtype=dtype)[None, :]
    coord = start + p * bin_size + (i + 0.5) * bin_size / grid
    valid = (coord >= -1.0) & (coord <= float(size))
    coord = coord.clamp(min=0.0)
    low = coord.floor().long()
    at_end = low >= size - 1
    low = torch.where(at_end, torch.full_like(low, size - 1), low)
    high = torch.where(at_end, low, low + 1)
    coord = torch.where(at_end, low.to(dtype), coord)
    frac = coord - low.to(dtype)
    w_high = torch.where(valid, frac, torch.zeros_like(frac))
    w_low = torch.where(valid, 1.0 - frac, torch.zeros_like(frac))
    return low, high, w_low, w_high


def roi_align(features: torch.Tensor, rois: torch.Tensor, output_size: int | tuple[int, int],
              spatial_scale: float = 1.0, sampling_ratio: int = 0,
              aligned: bool = True) -> torch.Tensor:
    """features (N, C, H, W), rois (K, 5) -> (K, C, out_h, out_w).

    Arithmetic follows the reference kernel (float32 coordinates; per sample
    ``w1*v1 + w2*v2 + w3*v3 + w4*v4``, samples accumulated row by row, then divided by the
    sample count), so results agree with it to rounding."""
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    _, c, height, width = features.shape
    dtype = features.dtype
    result = features.new_zeros(rois.shape[0], c, out_h, out_w)
    boxes = rois.detach().to(device="cpu", dtype=dtype)
    scale = torch.tensor(spatial_scale, dtype=dtype)
    offset = torch.tensor(0.5 if aligned else 0.0, dtype=dtype)
    for k in range(boxes.shape[0]):
        b = int(boxes[k, 0].item())
        x1, y1, x2, y2 = (boxes[k, 1:] * scale - offset).unbind()
        roi_w, roi_h = x2 - x1, y2 - y1
        if not aligned:
            roi_w, roi_h = roi_w.clamp(min=1.0), roi_h.clamp(min=1.0)
        bin_w, bin_h = roi_w / out_w, roi_h / out_h
        grid_h = sampling_ratio if sampling_ratio > 0 else max(math.ceil(float(bin_h)), 0)
        grid_w = sampling_ratio if sampling_ratio > 0 else max(math.ceil(float(bin_w)), 0)
        if grid_h == 0 or grid_w == 0:
            continue  # empty RoI: the reference divides a zero sum by 1
        ylo, yhi, wy_lo, wy_hi = _axis_samples(y1, bin_h, out_h, grid_h, height)
        xlo, xhi, wx_lo, wx_hi = _axis_samples(x1, bin_w, out_w, grid_w, width)
        fmap = features[b]
        acc = features.new_zeros(c, out_h, out_w)
        for iy in range(grid_h):
            ry_lo, ry_hi = ylo[:, iy][:, None], yhi[:, iy][:, None]    # (out_h, 1)
            hy, ly = wy_lo[:, iy][:, None], wy_hi[:, iy][:, None]
            for ix in range(grid_w):
                cx_lo, cx_hi = xlo[:, ix][None, :], xhi[:, ix][None, :]  # (1, out_w)
                hx, lx = wx_lo[:, ix][None, :], wx_hi[:, ix][None, :]
                w1, w2, w3, w4 = (t.to(features.device) for t in (hy * hx, hy * lx, ly * hx, ly * lx))
                val = (w1 * fmap[:, ry_lo, cx_lo] + w2 * fmap[:, ry_lo, cx_hi]
                       + w3 * fmap[:, ry_hi, cx_lo] + w4 * fmap[:, ry_hi, cx_hi])
                acc = acc + val
        result[k] = acc / max(grid_h * grid_w, 1)
    return result


class RoIAlign(nn.Module):
    """Parameter-free module wrapper of :func:`roi_align` (mmcv's defaults)."""

    def __init__(self, output_size: int | tuple[int, int], spatial_scale: float = 1.0,
                 sampling_ratio: int = 0, aligned: bool = True):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = bool(aligned)

    def forward(self, features: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        return roi_align(features, rois, self.output_size, self.spatial_scale,
                         self.sampling_ratio, self.aligned)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}")


def bbox2roi(bbox_list: list[torch.Tensor]) -> torch.Tensor:
    """Per-image (n_i, 4) boxes -> (sum n_i, 5) rois with the image index first."""
    rois = []
    for i, boxes in enumerate(bbox_list):
        idx = boxes.new_full((boxes.shape[0], 1), i)
        rois.append(torch.cat([idx, boxes[:, :4]], dim=1))
    return torch.cat(rois, 0) if rois else torch.zeros(0, 5)
