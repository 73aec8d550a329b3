"""SDMG-R's RoI layer: mmcv's ``RoIAlign`` module (parameter-free, key-compatible) and
mmdet's ``bbox2roi``; the pooling itself is ``handlers.ops.roi_align``, shared with Mask R-CNN."""
from __future__ import annotations

import torch
from torch import nn

from handlers.ops.roi_align import roi_align


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
