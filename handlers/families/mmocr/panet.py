"""PANet (MMOCR 1.x names: backbone, neck, det_head) with FPEM_FFM neck and PANHead.

Written from the PAN paper (Wang et al., ICCV 2019: FPEM = up-scale then down-scale
enhancement with separable convs, FFM = element-wise sum of the cascaded FPEM outputs,
then upsample and concat) and MMOCR's config / state_dict names. ``build_panet(name)``
builds the network from the numbers kept in ``DEFAULT_CFGS``; the head output
(N, 6, H/4, W/4) is raw logits: text, kernel, 4 embedding channels.
Post-processing: ``handlers.ops.pan_postprocess``.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from handlers.api.spec import UnknownName
from handlers.families.mmocr.resnet import ResNet

_PREPROCESS = {"mean": (123.675, 116.28, 103.53), "std": (58.395, 57.12, 57.375),
               "bgr_to_rgb": True, "pad_size_divisor": 32}

DEFAULT_CFGS: dict[str, dict[str, Any]] = {
    "panet_resnet18_fpem-ffm_600e_icdar2015": {
        "backbone": {"depth": 18, "num_stages": 4, "out_indices": (0, 1, 2, 3),
                     "stem_channels": 128, "deep_stem": True, "style": "pytorch"},
        "neck": {"in_channels": (64, 128, 256, 512), "conv_out": 128, "fpem_repeat": 2,
                 "align_corners": False},
        "det_head": {"in_channels": (128, 128, 128, 128), "hidden_dim": 128,
                     "out_channel": 6},
        # PANPostprocessor defaults, text_repr_type from the config.
        "postprocessor": {"text_repr_type": "quad", "score_threshold": 0.3,
                          "min_text_confidence": 0.5, "min_kernel_confidence": 0.5,
                          "distance_threshold": 3.0, "min_text_area": 16,
                          "downsample_ratio": 0.25},
        "preprocess": dict(_PREPROCESS),
        # ShortScaleAspectJitter at test time: ratio_range and aspect_ratio_range (1, 1).
        "test_resize": {"type": "ShortScaleAspectJitter", "short_size": 736, "scale_divisor": 1},
    },
}


class SeparableConv2d(nn.Module):
    """Depthwise 3x3 (with bias, optional stride) -> pointwise 1x1 -> BN -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise_conv = nn.Conv2d(in_channels, in_channels, 3, stride=stride,
                                        padding=1, groups=in_channels)
        self.pointwise_conv = nn.Conv2d(in_channels, out_channels, 1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.pointwise_conv(self.depthwise_conv(x))))


def _up_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=y.shape[2:]) + y  # nearest


class FPEM(nn.Module):
    """Feature pyramid enhancement: up-scale pass (stride 1), down-scale pass (stride 2)."""

    def __init__(self, channels: int = 128) -> None:
        super().__init__()
        for i in (1, 2, 3):
            self.add_module(f"up_add{i}", SeparableConv2d(channels, channels, 1))
        for i in (1, 2, 3):
            self.add_module(f"down_add{i}", SeparableConv2d(channels, channels, 2))

    def forward(self, c2, c3, c4, c5):
        c4 = self.up_add1(_up_add(c5, c4))
        c3 = self.up_add2(_up_add(c4, c3))
        c2 = self.up_add3(_up_add(c3, c2))
        c3 = self.down_add1(_up_add(c3, c2))
        c4 = self.down_add2(_up_add(c4, c3))
        c5 = self.down_add3(_up_add(c5, c4))
        return c2, c3, c4, c5


def _reduce(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout), nn.ReLU())


class FPEM_FFM(nn.Module):  # noqa: N801 (MMOCR's name)
    """1x1 reductions to ``conv_out``, ``fpem_repeat`` FPEMs summed (FFM), bilinear up."""

    def __init__(self, in_channels: Sequence[int], conv_out: int = 128,
                 fpem_repeat: int = 2, align_corners: bool = False) -> None:
        super().__init__()
        self.reduce_conv_c2 = _reduce(in_channels[0], conv_out)
        self.reduce_conv_c3 = _reduce(in_channels[1], conv_out)
        self.reduce_conv_c4 = _reduce(in_channels[2], conv_out)
        self.reduce_conv_c5 = _reduce(in_channels[3], conv_out)
        self.align_corners = align_corners
        self.fpems = nn.ModuleList(FPEM(conv_out) for _ in range(fpem_repeat))

    def forward(self, x: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        c = (self.reduce_conv_c2(x[0]), self.reduce_conv_c3(x[1]),
             self.reduce_conv_c4(x[2]), self.reduce_conv_c5(x[3]))
        acc: list[torch.Tensor] | None = None
        for fpem in self.fpems:
            c = fpem(*c)
            acc = list(c) if acc is None else [a + b for a, b in zip(acc, c)]
        assert acc is not None
        size = acc[0].shape[-2:]
        ups = [F.interpolate(t, size, mode="bilinear", align_corners=self.align_corners)
               for t in acc[1:]]
        return (acc[0], *ups)


class PANHead(nn.Module):
    """concat -> 3x3 conv (bias) -> BN -> ReLU -> 1x1 conv to ``out_channel`` logits.

    PSENet's PSEHead has the same structure (PSEHead subclasses PANHead in MMOCR).
    """

    def __init__(self, in_channels: Sequence[int], hidden_dim: int, out_channel: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(sum(in_channels), hidden_dim, 3, stride=1, padding=1)
        self.bn1 = nn.BatchNorm2d(hidden_dim)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(hidden_dim, out_channel, 1)

    def forward(self, inputs) -> torch.Tensor:
        x = torch.cat(inputs, dim=1) if isinstance(inputs, (tuple, list)) else inputs
        return self.conv2(self.relu1(self.bn1(self.conv1(x))))


class PANet(nn.Module):
    def __init__(self, backbone: Mapping[str, Any], neck: Mapping[str, Any],
                 det_head: Mapping[str, Any]) -> None:
        super().__init__()
        self.backbone = ResNet(**backbone)
        self.neck = FPEM_FFM(**neck)
        self.det_head = PANHead(**det_head)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Normalised (N, 3, H, W) -> (N, 6, H/4, W/4) logits (MMOCR's 'tensor' output)."""
        return self.det_head(self.neck(self.backbone(inputs)))


def panet_config(config_name: str) -> dict[str, Any]:
    if config_name not in DEFAULT_CFGS:
        raise UnknownName("PANet config", config_name, DEFAULT_CFGS)
    return copy.deepcopy(DEFAULT_CFGS[config_name])


def build_panet(config_name: str) -> PANet:
    cfg = panet_config(config_name)
    return PANet(cfg["backbone"], cfg["neck"], cfg["det_head"]).eval()


def pan_params_kwargs(config_name: str) -> dict[str, Any]:
    """Keyword arguments for handlers.ops.pan_postprocess.pan_postprocess."""
    return panet_config(config_name)["postprocessor"]
