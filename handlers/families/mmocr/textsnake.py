"""TextSnake (MMOCR 1.x names: backbone, neck, det_head) with the FPN_UNet neck.

Written from the TextSnake paper (Long et al., ECCV 2018: U-Net-like FPN back to
full resolution; per pixel text region, text center line, sin, cos, radius) and
MMOCR's config / state_dict names. ``build_textsnake(name)`` builds the network from
``DEFAULT_CFGS``; the output is (N, 5, H, W): text logit, center logit, sin, cos,
radius (raw). Post-processing: ``handlers.ops.textsnake_postprocess``.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from handlers.families.mmocr.resnet import ResNet

DEFAULT_CFGS: dict[str, dict[str, Any]] = {
    "textsnake_resnet50_fpn-unet_1200e_ctw1500": {
        "backbone": {"depth": 50, "num_stages": 4, "out_indices": (0, 1, 2, 3),
                     "style": "caffe"},
        "neck": {"in_channels": (256, 512, 1024, 2048), "out_channels": 32},
        "det_head": {"in_channels": 32, "out_channels": 5},
        # TextSnakePostprocessor defaults ('poly' only).
        "postprocessor": {"text_repr_type": "poly", "min_text_region_confidence": 0.6,
                          "min_center_region_confidence": 0.2, "min_center_area": 30,
                          "disk_overlap_thr": 0.03, "radius_shrink_ratio": 1.03},
        "preprocess": {"mean": (123.675, 116.28, 103.53), "std": (58.395, 57.12, 57.375),
                       "bgr_to_rgb": True, "pad_size_divisor": 32},
        "test_resize": {"type": "Resize", "scale": (1333, 736), "keep_ratio": True},
    },
}


class UpBlock(nn.Module):
    """relu(1x1 conv) -> relu(3x3 conv) -> 4x4 stride-2 transposed conv (x2 up)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1x1 = nn.Conv2d(in_channels, in_channels, 1)
        self.conv3x3 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.deconv = nn.ConvTranspose2d(out_channels, out_channels, 4, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.deconv(F.relu(self.conv3x3(F.relu(self.conv1x1(x)))))


class FPN_UNet(nn.Module):  # noqa: N801 (MMOCR's name)
    """C5 up (deconv), then concat with C4, C3, C2 through UpBlocks, to input size."""

    def __init__(self, in_channels: Sequence[int], out_channels: int) -> None:
        super().__init__()
        if len(in_channels) != 4:
            raise ValueError("FPN_UNet needs 4 input levels")
        outs = [out_channels] + [min(out_channels * 2**i, 256) for i in range(4)]
        ins = [outs[1]] + [in_channels[i] + outs[i + 2] for i in range(3)] + [in_channels[3]]
        self.up4 = nn.ConvTranspose2d(ins[4], outs[4], 4, stride=2, padding=1)
        self.up_block3 = UpBlock(ins[3], outs[3])
        self.up_block2 = UpBlock(ins[2], outs[2])
        self.up_block1 = UpBlock(ins[1], outs[1])
        self.up_block0 = UpBlock(ins[0], outs[0])

    def forward(self, x: Sequence[torch.Tensor]) -> torch.Tensor:
        c2, c3, c4, c5 = x
        y = F.relu(self.up4(c5))
        y = F.relu(self.up_block3(torch.cat([y, c4], dim=1)))
        y = F.relu(self.up_block2(torch.cat([y, c3], dim=1)))
        y = F.relu(self.up_block1(torch.cat([y, c2], dim=1)))
        return self.up_block0(y)


class TextSnakeHead(nn.Module):
    def __init__(self, in_channels: int, out_channels: int = 5) -> None:
        super().__init__()
        self.out_conv = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_conv(x)


class TextSnake(nn.Module):
    def __init__(self, backbone: Mapping[str, Any], neck: Mapping[str, Any],
                 det_head: Mapping[str, Any]) -> None:
        super().__init__()
        self.backbone = ResNet(**backbone)
        self.neck = FPN_UNet(**neck)
        self.det_head = TextSnakeHead(**det_head)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Normalised (N, 3, H, W) -> (N, 5, H, W) maps (MMOCR's 'tensor' output)."""
        return self.det_head(self.neck(self.backbone(inputs)))


def textsnake_config(config_name: str) -> dict[str, Any]:
    if config_name not in DEFAULT_CFGS:
        raise ValueError(
            f"unknown TextSnake config {config_name!r}; known: {sorted(DEFAULT_CFGS)}")
    return copy.deepcopy(DEFAULT_CFGS[config_name])


def build_textsnake(config_name: str) -> TextSnake:
    cfg = textsnake_config(config_name)
    return TextSnake(cfg["backbone"], cfg["neck"], cfg["det_head"]).eval()


def textsnake_params_kwargs(config_name: str) -> dict[str, Any]:
    """Keyword arguments for handlers.ops.textsnake_postprocess.textsnake_postprocess."""
    return textsnake_config(config_name)["postprocessor"]
