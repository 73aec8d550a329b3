"""Mask R-CNN's neck and heads with mmdet 3.x's module and state_dict names.

* ``FPN5``: mmdet ``FPN`` (num_outs 5, no extra convs): the FPN of ``fcenet.py`` plus a
  fifth level ``max_pool2d(P5, kernel 1, stride 2)``.
* ``RPNHead``: ``rpn_conv`` 3x3 + ReLU shared by all levels, ``rpn_cls`` 1x1 (A sigmoid
  logits), ``rpn_reg`` 1x1 (4 A deltas).
* ``Shared2FCBBoxHead``: flatten -> ``shared_fcs.0/1`` (+ ReLU) -> ``fc_cls``
  (num_classes + 1, background last) and ``fc_reg`` (4 num_classes).
* ``FCNMaskHead``: ``convs.{0..3}.conv`` 3x3 + ReLU -> ``upsample`` (2x2 stride-2 deconv)
  + ReLU -> ``conv_logits`` 1x1 (num_classes).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from handlers.families.mmocr.fcenet import FPN, _Conv


class FPN5(FPN):
    """FPN whose outputs get extra levels by stride-2 subsampling of the last one."""

    def __init__(self, in_channels: Sequence[int], out_channels: int, num_outs: int = 5) -> None:
        super().__init__(in_channels, out_channels)
        self.num_outs = num_outs

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        outs = list(super().forward(inputs))
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        return tuple(outs)


class RPNHead(nn.Module):
    def __init__(self, in_channels: int, feat_channels: int, num_anchors: int) -> None:
        super().__init__()
        self.rpn_conv = nn.Conv2d(in_channels, feat_channels, 3, padding=1)
        self.rpn_cls = nn.Conv2d(feat_channels, num_anchors, 1)
        self.rpn_reg = nn.Conv2d(feat_channels, num_anchors * 4, 1)

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per level: (N, A, H, W) objectness logits and (N, 4A, H, W) deltas."""
        hidden = [F.relu(self.rpn_conv(x)) for x in feats]
        return [self.rpn_cls(x) for x in hidden], [self.rpn_reg(x) for x in hidden]


class Shared2FCBBoxHead(nn.Module):
    def __init__(self, in_channels: int = 256, roi_feat_size: int = 7,
                 fc_out_channels: int = 1024, num_classes: int = 1) -> None:
        super().__init__()
        flat = in_channels * roi_feat_size * roi_feat_size
        self.shared_fcs = nn.ModuleList([nn.Linear(flat, fc_out_channels),
                                         nn.Linear(fc_out_channels, fc_out_channels)])
        self.fc_cls = nn.Linear(fc_out_channels, num_classes + 1)
        self.fc_reg = nn.Linear(fc_out_channels, 4 * num_classes)

    def forward(self, roi_feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(K, C, 7, 7) -> (K, num_classes + 1) logits, (K, 4 num_classes) deltas."""
        x = roi_feats.flatten(1)
        for fc in self.shared_fcs:
            x = F.relu(fc(x))
        return self.fc_cls(x), self.fc_reg(x)


class FCNMaskHead(nn.Module):
    def __init__(self, in_channels: int = 256, conv_out_channels: int = 256,
                 num_convs: int = 4, num_classes: int = 1) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            _Conv(in_channels if i == 0 else conv_out_channels, conv_out_channels, 3, 1)
            for i in range(num_convs))
        self.upsample = nn.ConvTranspose2d(conv_out_channels, conv_out_channels, 2, stride=2)
        self.conv_logits = nn.Conv2d(conv_out_channels, num_classes, 1)

    def forward(self, roi_feats: torch.Tensor) -> torch.Tensor:
        """(K, C, 14, 14) -> (K, num_classes, 28, 28) mask logits."""
        x = roi_feats
        for conv in self.convs:
            x = F.relu(conv(x))
        return self.conv_logits(F.relu(self.upsample(x)))
