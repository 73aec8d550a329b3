"""FPNC neck of DBNet (FPN-like concatenation) with DBNet++'s Adaptive Scale Fusion.

State_dict names follow MMOCR's FPNC: ``lateral_convs.{i}.conv``, ``smooth_convs.{i}.conv``
(mmcv ConvModule wraps its conv as ``.conv`` and its norm as ``.bn``), and with ASF
``asf_conv.conv`` + ``asf_attn.{channel_wise,spatial_wise}.{0,1}.conv`` /
``asf_attn.attention_wise.conv``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ConvModule(nn.Module):
    """conv -> optional BatchNorm -> optional activation, with mmcv's child names."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *,
                 padding: int = 0, bias: bool = True, norm: bool = False,
                 act: str | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=bias)
        self.bn = nn.BatchNorm2d(out_channels) if norm else None
        if act is None:
            self.activate = None
        elif act == "ReLU":
            self.activate = nn.ReLU()
        elif act == "Sigmoid":
            self.activate = nn.Sigmoid()
        else:
            raise ValueError(f"unsupported activation {act!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.activate is not None:
            x = self.activate(x)
        return x


class ScaleChannelSpatialAttention(nn.Module):
    """DBNet++ ASF attention: channel, then spatial, then per-scale weights (sigmoid)."""

    def __init__(self, in_channels: int, c_wise_channels: int, out_channels: int) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.channel_wise = nn.Sequential(
            ConvModule(in_channels, c_wise_channels, 1, bias=False, act="ReLU"),
            ConvModule(c_wise_channels, in_channels, 1, bias=False, act="Sigmoid"),
        )
        self.spatial_wise = nn.Sequential(
            ConvModule(1, 1, 3, padding=1, bias=False, act="ReLU"),
            ConvModule(1, 1, 1, bias=False, act="Sigmoid"),
        )
        self.attention_wise = ConvModule(in_channels, out_channels, 1, bias=False, act="Sigmoid")

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        # Channel attention broadcast-added to the features, then a spatial
        # attention from their channel mean added on top, then one map per scale.
        feat = self.channel_wise(self.avg_pool(inputs)) + inputs
        feat = self.spatial_wise(feat.mean(dim=1, keepdim=True)) + feat
        return self.attention_wise(feat)


class FPNC(nn.Module):
    """Top-down FPN over C2..C5, 3x3 smoothing, upsample all to C2 size, concatenate."""

    def __init__(self, in_channels: Sequence[int], lateral_channels: int = 256,
                 out_channels: int = 64, bias_on_lateral: bool = False,
                 bn_re_on_lateral: bool = False, bias_on_smooth: bool = False,
                 bn_re_on_smooth: bool = False, asf_cfg: dict | None = None,
                 conv_after_concat: bool = False) -> None:
        super().__init__()
        self.in_channels = list(in_channels)
        self.num_outs = len(self.in_channels)
        lat_act = "ReLU" if bn_re_on_lateral else None
        smooth_act = "ReLU" if bn_re_on_smooth else None
        self.lateral_convs = nn.ModuleList(
            ConvModule(c, lateral_channels, 1, bias=bias_on_lateral,
                       norm=bn_re_on_lateral, act=lat_act)
            for c in self.in_channels
        )
        self.smooth_convs = nn.ModuleList(
            ConvModule(lateral_channels, out_channels, 3, padding=1, bias=bias_on_smooth,
                       norm=bn_re_on_smooth, act=smooth_act)
            for _ in self.in_channels
        )
        cat_channels = out_channels * self.num_outs
        self.asf_cfg = asf_cfg
        if asf_cfg is not None:
            if asf_cfg.get("attention_type") != "ScaleChannelSpatial":
                raise ValueError(f"unsupported ASF attention_type in {asf_cfg!r}")
            self.asf_conv = ConvModule(cat_channels, cat_channels, 3, padding=1, bias=True)
            self.asf_attn = ScaleChannelSpatialAttention(
                cat_channels, cat_channels // 4, self.num_outs)
        self.conv_after_concat = conv_after_concat
        if conv_after_concat:
            self.out_conv = ConvModule(cat_channels, cat_channels, 3, padding=1,
                                       bias=False, norm=True, act="ReLU")

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f"expected {len(self.in_channels)} feature maps, got {len(inputs)}")
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, inputs)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], size=laterals[i - 1].shape[2:], mode="nearest")
        outs = [conv(lat) for conv, lat in zip(self.smooth_convs, laterals)]
        size = outs[0].shape[2:]
        outs = [F.interpolate(o, size=size, mode="nearest") for o in outs]
        out = torch.cat(outs, dim=1)
        if self.asf_cfg is not None:
            attention = self.asf_attn(self.asf_conv(out))
            out = torch.cat([attention[:, i:i + 1] * o for i, o in enumerate(outs)], dim=1)
        if self.conv_after_concat:
            out = self.out_conv(out)
        return out
