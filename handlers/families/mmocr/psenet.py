"""PSENet (MMOCR 1.x names: backbone, neck, det_head) with the FPNF neck and PSEHead.

Written from the PSENet paper (Wang et al., CVPR 2019: FPN features fused by
concatenation at 1/4 scale, n kernel maps) and MMOCR's config / state_dict names.
``build_psenet(name)`` builds the network from ``DEFAULT_CFGS``; the output is
(N, 7, H/4, W/4) logits (channel 0 the full text map, 6 the smallest kernel).
Post-processing: ``handlers.ops.pse_postprocess``.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from handlers.api.spec import UnknownName
from handlers.families.mmocr.panet import PANHead
from handlers.families.mmocr.resnet import ResNet

DEFAULT_CFGS: dict[str, dict[str, Any]] = {
    "psenet_resnet50_fpnf_600e_icdar2015": {
        # norm_cfg SyncBN in the config: identical to BatchNorm2d at inference.
        "backbone": {"depth": 50, "num_stages": 4, "out_indices": (0, 1, 2, 3),
                     "style": "pytorch"},
        "neck": {"in_channels": (256, 512, 1024, 2048), "out_channels": 256,
                 "fusion_type": "concat"},
        "det_head": {"in_channels": (256,), "hidden_dim": 256, "out_channel": 7},
        # PSEPostprocessor defaults, text_repr_type from the config.
        "postprocessor": {"text_repr_type": "quad", "min_kernel_confidence": 0.5,
                          "score_threshold": 0.3, "min_kernel_area": 0,
                          "min_text_area": 16, "downsample_ratio": 0.25},
        "preprocess": {"mean": (123.675, 116.28, 103.53), "std": (58.395, 57.12, 57.375),
                       "bgr_to_rgb": True, "pad_size_divisor": 32},
        "test_resize": {"type": "Resize", "scale": (2240, 2240), "keep_ratio": True},
    },
}


class ConvBNReLU(nn.Module):
    """mmcv ConvModule with BN + ReLU: names ``conv`` (no bias), ``bn``."""

    def __init__(self, cin: int, cout: int, kernel_size: int, padding: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.activate = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.bn(self.conv(x)))


class FPNF(nn.Module):
    """Laterals (1x1), top-down nearest-upsample + add + 3x3 smoothing per level,
    everything nearest-upsampled to the finest level, concatenated (or added), 3x3 conv."""

    def __init__(self, in_channels: Sequence[int] = (256, 512, 1024, 2048),
                 out_channels: int = 256, fusion_type: str = "concat") -> None:
        super().__init__()
        if fusion_type not in ("concat", "add"):
            raise ValueError(f"fusion_type must be 'concat' or 'add', got {fusion_type!r}")
        n = len(in_channels)
        self.lateral_convs = nn.ModuleList(ConvBNReLU(c, out_channels, 1) for c in in_channels)
        self.fpn_convs = nn.ModuleList(ConvBNReLU(out_channels, out_channels, 3, 1)
                                       for _ in range(n - 1))
        self.fusion_type = fusion_type
        # MMOCR hard-codes 1024 / 256 (4 levels of 256 channels).
        feature_channels = 1024 if fusion_type == "concat" else 256
        self.output_convs = ConvBNReLU(feature_channels, out_channels, 3, 1)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, inputs)]
        for i in range(len(laterals) - 1, 0, -1):
            up = F.interpolate(laterals[i], size=laterals[i - 1].shape[2:], mode="nearest")
            laterals[i - 1] = self.fpn_convs[i - 1](laterals[i - 1] + up)
        size = laterals[0].shape[2:]
        laterals = [laterals[0]] + [F.interpolate(t, size=size, mode="nearest")
                                    for t in laterals[1:]]
        if self.fusion_type == "concat":
            out = torch.cat(laterals, 1)
        else:
            out = laterals[0]
            for t in laterals[1:]:
                out = out + t
        return self.output_convs(out)


class PSENet(nn.Module):
    def __init__(self, backbone: Mapping[str, Any], neck: Mapping[str, Any],
                 det_head: Mapping[str, Any]) -> None:
        super().__init__()
        self.backbone = ResNet(**backbone)
        self.neck = FPNF(**neck)
        self.det_head = PANHead(**det_head)  # MMOCR's PSEHead is a PANHead

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Normalised (N, 3, H, W) -> (N, 7, H/4, W/4) logits (MMOCR's 'tensor' output)."""
        return self.det_head(self.neck(self.backbone(inputs)))


def psenet_config(config_name: str) -> dict[str, Any]:
    if config_name not in DEFAULT_CFGS:
        raise UnknownName("PSENet config", config_name, DEFAULT_CFGS)
    return copy.deepcopy(DEFAULT_CFGS[config_name])


def build_psenet(config_name: str) -> PSENet:
    cfg = psenet_config(config_name)
    return PSENet(cfg["backbone"], cfg["neck"], cfg["det_head"]).eval()


def pse_params_kwargs(config_name: str) -> dict[str, Any]:
    """Keyword arguments for handlers.ops.pse_postprocess.pse_postprocess."""
    return psenet_config(config_name)["postprocessor"]
