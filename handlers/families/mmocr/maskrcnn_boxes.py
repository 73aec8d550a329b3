"""Mask R-CNN box arithmetic in torch: anchors, delta coding, RoI level assignment, RoIAlign.

Written from the Faster / Mask R-CNN papers and mmdet 3.x's documented behaviour:

* ``grid_anchors``: per level, base anchors centred on (0, 0) (``center_offset`` 0),
  ``h = stride * scale * sqrt(ratio)``, ``w = stride * scale / sqrt(ratio)`` (one anchor
  per ratio, scale-major order), shifted to every ``(x * stride, y * stride)``; rows are
  position-major (y, then x) and anchor-minor, matching a head output permuted to
  (H, W, A).
* ``delta_decode`` / ``delta_encode``: mmdet's DeltaXYWHBBoxCoder (means, stds; dw, dh
  clamped to |log(16 / 1000)|; decoded boxes clipped to the image (h, w)).
* ``roi_levels``: level = floor(log2(sqrt(area) / 56 + 1e-6)), clamped to the levels.
* ``multilevel_roi_align``: each RoI pooled from its level by mmcv RoIAlign (aligned,
  sampling_ratio 0, average): ``handlers.ops.roi_align``, the one shared with SDMG-R.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from handlers.ops.roi_align import roi_align


#: mmdet's DeltaXYWHBBoxCoder default wh_ratio_clip.
WH_RATIO_CLIP = 16 / 1000


def base_anchors(stride: int, scales: Sequence[float], ratios: Sequence[float]) -> torch.Tensor:
    """(len(ratios) * len(scales), 4) anchors centred on (0, 0)."""
    r = torch.as_tensor(ratios, dtype=torch.float32)
    s = torch.as_tensor(scales, dtype=torch.float32)
    h_ratios = torch.sqrt(r)
    w_ratios = 1 / h_ratios
    ws = (stride * w_ratios[:, None] * s[None, :]).reshape(-1)
    hs = (stride * h_ratios[:, None] * s[None, :]).reshape(-1)
    return torch.stack([-0.5 * ws, -0.5 * hs, 0.5 * ws, 0.5 * hs], dim=-1)


def grid_anchors(feat_size: tuple[int, int], stride: int, scales: Sequence[float],
                 ratios: Sequence[float]) -> torch.Tensor:
    """All anchors of one level of size (h, w): (h * w * A, 4)."""
    height, width = feat_size
    shift_x = torch.arange(width, dtype=torch.float32) * stride
    shift_y = torch.arange(height, dtype=torch.float32) * stride
    yy, xx = torch.meshgrid(shift_y, shift_x, indexing="ij")
    xx, yy = xx.reshape(-1), yy.reshape(-1)
    shifts = torch.stack([xx, yy, xx, yy], dim=-1)
    return (shifts[:, None, :] + base_anchors(stride, scales, ratios)[None]).reshape(-1, 4)


def delta_decode(rois: torch.Tensor, deltas: torch.Tensor, stds: Sequence[float],
                 max_shape: tuple[int, int] | None = None,
                 means: Sequence[float] = (0.0, 0.0, 0.0, 0.0)) -> torch.Tensor:
    """Apply (K, 4) deltas (dx, dy, dw, dh) to (K, 4) boxes; clip to max_shape (h, w)."""
    d = deltas * deltas.new_tensor(stds) + deltas.new_tensor(means)
    pxy = (rois[:, :2] + rois[:, 2:]) * 0.5
    pwh = rois[:, 2:] - rois[:, :2]
    max_ratio = abs(math.log(WH_RATIO_CLIP))
    dwh = d[:, 2:].clamp(min=-max_ratio, max=max_ratio)
    gxy = pxy + pwh * d[:, :2]
    gwh = pwh * dwh.exp()
    boxes = torch.cat([gxy - gwh * 0.5, gxy + gwh * 0.5], dim=-1)
    if max_shape is not None:
        boxes[:, 0::2] = boxes[:, 0::2].clamp(min=0, max=max_shape[1])
        boxes[:, 1::2] = boxes[:, 1::2].clamp(min=0, max=max_shape[0])
    return boxes


def delta_encode(rois: torch.Tensor, boxes: torch.Tensor, stds: Sequence[float],
                 means: Sequence[float] = (0.0, 0.0, 0.0, 0.0)) -> torch.Tensor:
    """Deltas that take `rois` to `boxes` (the inverse of delta_decode without clamps)."""
    pxy = (rois[:, :2] + rois[:, 2:]) * 0.5
    pwh = rois[:, 2:] - rois[:, :2]
    gxy = (boxes[:, :2] + boxes[:, 2:]) * 0.5
    gwh = boxes[:, 2:] - boxes[:, :2]
    d = torch.cat([(gxy - pxy) / pwh, torch.log(gwh / pwh)], dim=-1)
    return (d - d.new_tensor(means)) / d.new_tensor(stds)


def roi_levels(rois: torch.Tensor, num_levels: int, finest_scale: int = 56) -> torch.Tensor:
    """FPN level of each (K, 5) RoI (batch, x1, y1, x2, y2)."""
    scale = torch.sqrt((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2]))
    levels = torch.floor(torch.log2(scale / finest_scale + 1e-6))
    return levels.clamp(min=0, max=num_levels - 1).long()


def multilevel_roi_align(feats: Sequence[torch.Tensor], rois: torch.Tensor,
                         strides: Sequence[int], output_size: int) -> torch.Tensor:
    """(K, 5) RoIs of one image -> (K, C, out, out) features, each from its own level."""
    out = feats[0].new_zeros(rois.shape[0], feats[0].shape[1], output_size, output_size)
    levels = roi_levels(rois, len(strides))
    for level, (feat, stride) in enumerate(zip(feats, strides)):
        sel = torch.nonzero(levels == level).reshape(-1)
        if sel.numel() > 0:
            out[sel] = roi_align(feat, rois[sel], output_size, 1.0 / stride)
    return out
