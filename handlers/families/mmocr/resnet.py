"""mmdet-style ResNet (BasicBlock / Bottleneck) with MMDetection's state_dict names.

Only what MMOCR's text detectors need: depths 18/34/50/101/152, ``style`` 'pytorch'
(stride on the 3x3 conv of a Bottleneck) or 'caffe' (stride on its first 1x1 conv),
``out_indices``, plain (non-average) downsample shortcuts, BatchNorm. Parameter names
follow mmdet's ResNet: ``conv1``/``bn1`` stem, ``layer{i}.{j}.conv{k}``/``bn{k}``,
``downsample.0``/``downsample.1``. ``deep_stem=True`` (PANet) replaces the 7x7 stem by
three 3x3 conv-BN-ReLU (``stem.0/1``, ``stem.3/4``, ``stem.6/7``; widths stem/2, stem/2,
stem; the first one strided), as in mmdet.

DCNv2 stages (``dcn=dict(type='DCNv2', deform_groups=1, fallback_on_stride=False)``,
``stage_with_dcn``) replace a Bottleneck's 3x3 ``conv2`` with the pure-torch
ModulatedDeformConv2dPack of ``dcn.py`` (keys ``conv2.weight``, ``conv2.conv_offset.*``).
Not implemented (refused with ValueError): DCN on BasicBlocks, other DCN types,
plugins, ``avg_down``, dilation; frozen stages / norm_eval do not matter
at inference in eval mode.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from handlers.families.mmocr.dcn import ModulatedDeformConv2dPack


class BasicBlock(nn.Module):
    """Two 3x3 convs; the stride sits on the first one whatever the style."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, style: str = "pytorch",
                 dcn: dict | None = None) -> None:
        super().__init__()
        if dcn is not None:
            raise ValueError("DCN is not supported on BasicBlock (as in mmdet)")
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4); 'pytorch' strides the 3x3, 'caffe' the first 1x1."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, style: str = "pytorch",
                 dcn: dict | None = None) -> None:
        super().__init__()
        if style not in ("pytorch", "caffe"):
            raise ValueError(f"style must be 'pytorch' or 'caffe', got {style!r}")
        s1, s2 = (1, stride) if style == "pytorch" else (stride, 1)
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride=s1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        if dcn is not None and not (dcn.get("fallback_on_stride", False) and s2 > 1):
            self.conv2: nn.Module = ModulatedDeformConv2dPack(
                planes, planes, 3, stride=s2, padding=1, bias=False,
                deform_groups=dcn.get("deform_groups", 1))
        else:
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=s2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


ARCH_SETTINGS: dict[int, tuple[type[nn.Module], tuple[int, ...]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


class ResNet(nn.Module):
    """Backbone returning the feature maps of the stages listed in ``out_indices``."""

    def __init__(self, depth: int, num_stages: int = 4,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 strides: Sequence[int] = (1, 2, 2, 2), style: str = "pytorch",
                 in_channels: int = 3, stem_channels: int = 64, base_channels: int = 64,
                 dcn: dict | None = None,
                 stage_with_dcn: Sequence[bool] = (False, False, False, False),
                 deep_stem: bool = False) -> None:
        super().__init__()
        if depth not in ARCH_SETTINGS:
            raise ValueError(f"invalid depth {depth} for ResNet; one of {sorted(ARCH_SETTINGS)}")
        if dcn is not None:
            unknown = set(dcn) - {"type", "deform_groups", "fallback_on_stride"}
            if dcn.get("type") != "DCNv2" or unknown:
                raise ValueError(f"only dcn=dict(type='DCNv2', deform_groups, "
                                 f"fallback_on_stride) is implemented, got {dcn!r}")
            if len(stage_with_dcn) != num_stages:
                raise ValueError("stage_with_dcn needs one flag per stage")
        if not 1 <= num_stages <= 4 or max(out_indices) >= num_stages:
            raise ValueError(f"bad num_stages={num_stages} / out_indices={out_indices}")
        block, stage_blocks = ARCH_SETTINGS[depth]
        self.out_indices = tuple(out_indices)
        self.deep_stem = deep_stem
        if deep_stem:
            half = stem_channels // 2
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, half, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(half), nn.ReLU(inplace=True),
                nn.Conv2d(half, half, 3, stride=1, padding=1, bias=False),
                nn.BatchNorm2d(half), nn.ReLU(inplace=True),
                nn.Conv2d(half, stem_channels, 3, stride=1, padding=1, bias=False),
                nn.BatchNorm2d(stem_channels), nn.ReLU(inplace=True))
        else:
            self.conv1 = nn.Conv2d(in_channels, stem_channels, 7, stride=2, padding=3,
                                   bias=False)
            self.bn1 = nn.BatchNorm2d(stem_channels)
            self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.res_layers: list[str] = []
        inplanes = stem_channels
        for i in range(num_stages):
            planes = base_channels * 2**i
            stage_dcn = dcn if dcn is not None and stage_with_dcn[i] else None
            layer = self._make_layer(block, inplanes, planes, stage_blocks[i], strides[i],
                                     style, stage_dcn)
            inplanes = planes * block.expansion
            name = f"layer{i + 1}"
            self.add_module(name, layer)
            self.res_layers.append(name)

    @staticmethod
    def _make_layer(block: type[nn.Module], inplanes: int, planes: int, blocks: int,
                    stride: int, style: str, dcn: dict | None = None) -> nn.Sequential:
        downsample = None
        if stride != 1 or inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(inplanes, planes, stride, downsample, style, dcn)]
        inplanes = planes * block.expansion
        layers += [block(inplanes, planes, 1, None, style, dcn) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.deep_stem:
            x = self.maxpool(self.stem(x))
        else:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
