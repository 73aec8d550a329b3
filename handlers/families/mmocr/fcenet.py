"""FCENet (MMOCR 1.x names: backbone, neck, det_head) with mmdet's FPN and FCEHead.

Written from the FCENet paper (Zhu et al., CVPR 2021: per-pixel text-region /
text-center-region classification and Fourier signature regression on P3-P5) and
MMOCR's config / state_dict names. ``build_fcenet(name)`` builds the network from
``DEFAULT_CFGS``; ``forward`` returns, per level (strides 8, 16, 32), a dict with
``cls_res`` (N, 4, h, w) logits (tr bg/fg, tcl bg/fg) and ``reg_res``
(N, 2(2k+1), h, w) Fourier coefficients (x part then y part), k = 5.
Post-processing: ``handlers.ops.fce_postprocess``.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from handlers.api.spec import UnknownName
from handlers.families.mmocr.resnet import ResNet

DEFAULT_CFGS: dict[str, dict[str, Any]] = {
    "fcenet_resnet50_fpn_1500e_icdar2015": {
        "backbone": {"depth": 50, "num_stages": 4, "out_indices": (1, 2, 3),
                     "style": "pytorch"},
        # mmdet.FPN, num_outs=3 = number of inputs: no extra levels; act_cfg None.
        "neck": {"in_channels": (512, 1024, 2048), "out_channels": 256},
        "det_head": {"in_channels": 256, "fourier_degree": 5},
        "postprocessor": {"scales": (8, 16, 32), "text_repr_type": "quad",
                          "fourier_degree": 5, "num_reconstr_points": 50, "alpha": 1.2,
                          "beta": 1.0, "score_thr": 0.3, "nms_thr": 0.1},
        "preprocess": {"mean": (123.675, 116.28, 103.53), "std": (58.395, 57.12, 57.375),
                       "bgr_to_rgb": True, "pad_size_divisor": 32},
        "test_resize": {"type": "Resize", "scale": (2260, 2260), "keep_ratio": True},
    },
}


class _Conv(nn.Module):
    """mmcv ConvModule without norm/activation: a biased conv named ``conv``."""

    def __init__(self, cin: int, cout: int, kernel_size: int, padding: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class FPN(nn.Module):
    """mmdet FPN without extra levels and without activation: 1x1 laterals, top-down
    nearest upsampling (to the finer level's size) + add, 3x3 output convs."""

    def __init__(self, in_channels: Sequence[int], out_channels: int) -> None:
        super().__init__()
        self.lateral_convs = nn.ModuleList(_Conv(c, out_channels, 1) for c in in_channels)
        self.fpn_convs = nn.ModuleList(_Conv(out_channels, out_channels, 3, 1)
                                       for _ in in_channels)

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, inputs)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], size=laterals[i - 1].shape[2:], mode="nearest")
        return tuple(conv(x) for conv, x in zip(self.fpn_convs, laterals))


class FCEHead(nn.Module):
    """Shared 3x3 convs on every level: ``out_conv_cls`` (4) and ``out_conv_reg`` (2(2k+1))."""

    def __init__(self, in_channels: int, fourier_degree: int = 5) -> None:
        super().__init__()
        self.fourier_degree = fourier_degree
        self.out_conv_cls = nn.Conv2d(in_channels, 4, 3, padding=1)
        self.out_conv_reg = nn.Conv2d(in_channels, (2 * fourier_degree + 1) * 2, 3, padding=1)

    def forward(self, inputs: Sequence[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        return [{"cls_res": self.out_conv_cls(x), "reg_res": self.out_conv_reg(x)}
                for x in inputs]


class FCENet(nn.Module):
    def __init__(self, backbone: Mapping[str, Any], neck: Mapping[str, Any],
                 det_head: Mapping[str, Any]) -> None:
        super().__init__()
        self.backbone = ResNet(**backbone)
        self.neck = FPN(**neck)
        self.det_head = FCEHead(**det_head)

    def forward(self, inputs: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Normalised (N, 3, H, W) -> per-level {cls_res, reg_res} (MMOCR's 'tensor')."""
        return self.det_head(self.neck(self.backbone(inputs)))


def fcenet_config(config_name: str) -> dict[str, Any]:
    if config_name not in DEFAULT_CFGS:
        raise UnknownName("FCENet config", config_name, DEFAULT_CFGS)
    return copy.deepcopy(DEFAULT_CFGS[config_name])


def build_fcenet(config_name: str) -> FCENet:
    cfg = fcenet_config(config_name)
    return FCENet(cfg["backbone"], cfg["neck"], cfg["det_head"]).eval()


def fce_params_kwargs(config_name: str) -> dict[str, Any]:
    """Keyword arguments for handlers.ops.fce_postprocess.fce_postprocess."""
    return fcenet_config(config_name)["postprocessor"]
