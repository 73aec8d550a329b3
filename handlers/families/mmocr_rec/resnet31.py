"""ResNet-31 backbone of SAR (Li et al. 2019), MMOCR 1.x ``ResNet31OCR`` names.

Also used by NRTR (1by16-1by8 variant) and RobustScanner."""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
from torch import nn


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)


class BasicBlock(nn.Module):
    """conv-bn-relu-conv-bn (+ optional plugin after conv2) + residual, relu.

    ``use_conv1x1``: conv1 is 1x1 (stride 1) and the stride sits in conv2 (ASTER ResNet-45)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None, use_conv1x1: bool = False,
                 plugin: Optional[nn.Module] = None, plugin_name: str = "") -> None:
        super().__init__()
        if use_conv1x1:
            self.conv1 = nn.Conv2d(inplanes, planes, 1, 1, 0, bias=False)
            self.conv2 = conv3x3(planes, planes, stride)
        else:
            self.conv1 = conv3x3(inplanes, planes, stride)
            self.conv2 = conv3x3(planes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride
        self.plugin_name = plugin_name
        if plugin is not None:
            self.add_module(plugin_name, plugin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.plugin_name:
            out = getattr(self, self.plugin_name)(out)
        if self.downsample is not None:
            residual = self.downsample(x)
        return self.relu(out + residual)


class ResNet31OCR(nn.Module):
    def __init__(self, base_channels: int = 3, layers: Sequence[int] = (1, 2, 5, 3),
                 channels: Sequence[int] = (64, 128, 256, 256, 512, 512, 512),
                 stage4_pool_cfg=None, last_stage_pool: bool = False) -> None:
        super().__init__()
        if stage4_pool_cfg is None:
            stage4_pool_cfg = {"kernel_size": (2, 1), "stride": (2, 1)}
        self.conv1_1 = nn.Conv2d(base_channels, channels[0], 3, 1, 1)
        self.bn1_1 = nn.BatchNorm2d(channels[0])
        self.relu1_1 = nn.ReLU(inplace=True)
        self.conv1_2 = nn.Conv2d(channels[0], channels[1], 3, 1, 1)
        self.bn1_2 = nn.BatchNorm2d(channels[1])
        self.relu1_2 = nn.ReLU(inplace=True)
        pools = [nn.MaxPool2d(2, 2, 0, ceil_mode=True), nn.MaxPool2d(2, 2, 0, ceil_mode=True),
                 nn.MaxPool2d(padding=0, ceil_mode=True,
                              kernel_size=tuple(stage4_pool_cfg["kernel_size"]),
                              stride=tuple(stage4_pool_cfg["stride"])),
                 nn.MaxPool2d(2, 2, 0, ceil_mode=True) if last_stage_pool else None]
        for i in range(4):
            k = i + 2
            setattr(self, f"pool{k}", pools[i])
            setattr(self, f"block{k}", self._make_layer(channels[k - 1], channels[k], layers[i]))
            setattr(self, f"conv{k}", nn.Conv2d(channels[k], channels[k], 3, 1, 1))
            setattr(self, f"bn{k}", nn.BatchNorm2d(channels[k]))
            setattr(self, f"relu{k}", nn.ReLU(inplace=True))

    @staticmethod
    def _make_layer(c_in: int, c_out: int, blocks: int) -> nn.Sequential:
        layers = []
        for _ in range(blocks):
            downsample = None
            if c_in != c_out:
                downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, 1, bias=False),
                                           nn.BatchNorm2d(c_out))
            layers.append(BasicBlock(c_in, c_out, downsample=downsample))
            c_in = c_out
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)[-1]

    def stages(self, x: torch.Tensor) -> List[torch.Tensor]:
        """The output of each of the four stages (SegOCR's FPN reads them all)."""
        x = self.relu1_1(self.bn1_1(self.conv1_1(x)))
        x = self.relu1_2(self.bn1_2(self.conv1_2(x)))
        outs = []
        for k in range(2, 6):
            pool = getattr(self, f"pool{k}")
            if pool is not None:
                x = pool(x)
            x = getattr(self, f"block{k}")(x)
            x = getattr(self, f"relu{k}")(getattr(self, f"bn{k}")(getattr(self, f"conv{k}")(x)))
            outs.append(x)
        return outs
