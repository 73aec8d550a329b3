"""MMOCR 1.x generic text-recognition ``ResNet`` (stem ConvModules, BasicBlock stages,
per-stage plugins: MaxPool before a stage, ConvModule after it; ``GCAModule`` inside
blocks). Used by MASTER (ResNet-31 + GCA) and ASTER (ResNet-45)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import nn

from .resnet31 import BasicBlock


class ConvModule(nn.Module):
    """mmcv ConvModule with BN: conv (no bias) -> bn -> optional ReLU (``activate``)."""

    def __init__(self, c_in: int, c_out: int, kernel_size, stride=1, padding=0,
                 act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.with_activation = act
        if act:
            self.activate = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.bn(self.conv(x))
        return self.activate(x) if self.with_activation else x


class Maxpool2d(nn.Module):
    """MMOCR ``Maxpool2d`` plugin (wraps ``nn.MaxPool2d`` as ``model``)."""

    def __init__(self, kernel_size, stride, padding=0) -> None:
        super().__init__()
        k = tuple(kernel_size) if isinstance(kernel_size, (list, tuple)) else kernel_size
        s = tuple(stride) if isinstance(stride, (list, tuple)) else stride
        self.model = nn.MaxPool2d(k, s, padding)

    def forward(self, x):
        return self.model(x)


class GCAModule(nn.Module):
    """Global context attention (GCNet / MASTER): attention pooling -> bottleneck
    (1x1 conv, LayerNorm, ReLU, 1x1 conv) -> channel add."""

    def __init__(self, in_channels: int, ratio: float, n_head: int = 1,
                 pooling_type: str = "att", scale_attn: bool = False,
                 fusion_type: str = "channel_add") -> None:
        super().__init__()
        if pooling_type != "att" or fusion_type != "channel_add":
            raise NotImplementedError("only pooling_type='att', fusion_type='channel_add'")
        self.n_head = n_head
        self.in_channels = in_channels
        self.planes = int(in_channels * ratio)
        self.scale_attn = scale_attn
        self.single_header_inplanes = int(in_channels / n_head)
        self.conv_mask = nn.Conv2d(self.single_header_inplanes, 1, kernel_size=1)
        self.softmax = nn.Softmax(dim=2)
        self.channel_add_conv = nn.Sequential(
            nn.Conv2d(in_channels, self.planes, kernel_size=1),
            nn.LayerNorm([self.planes, 1, 1]), nn.ReLU(inplace=True),
            nn.Conv2d(self.planes, in_channels, kernel_size=1))

    def spatial_pool(self, x):
        n, _, h, w = x.size()
        c1 = self.single_header_inplanes
        x = x.view(n * self.n_head, c1, h, w)
        input_x = x.view(n * self.n_head, c1, h * w).unsqueeze(1)
        mask = self.conv_mask(x).view(n * self.n_head, 1, h * w)
        if self.scale_attn and self.n_head > 1:
            mask = mask / (c1 ** 0.5)
        mask = self.softmax(mask).unsqueeze(-1)
        return torch.matmul(input_x, mask).view(n, self.n_head * c1, 1, 1)

    def forward(self, x):
        return x + self.channel_add_conv(self.spatial_pool(x))


class ResNet(nn.Module):
    def __init__(self, in_channels: int, stem_channels: Sequence[int],
                 arch_layers: Sequence[int], arch_channels: Sequence[int],
                 strides: Sequence[Any], use_conv1x1: bool = False,
                 gca: Optional[Dict[str, Any]] = None,
                 plugins: Sequence[Dict[str, Any]] = ()) -> None:
        super().__init__()
        stem: List[nn.Module] = []
        c = in_channels
        for sc in stem_channels:
            stem.append(ConvModule(c, sc, 3, 1, 1))
            c = sc
        self.stem_layers = nn.Sequential(*stem)
        self.inplanes = c
        self.res_layers: List[str] = []
        self.before: Dict[int, List[str]] = {}
        self.after: Dict[int, List[str]] = {}
        for i, (blocks, planes, stride) in enumerate(zip(arch_layers, arch_channels, strides)):
            stride = tuple(stride) if isinstance(stride, (list, tuple)) else (stride, stride)
            self.before[i], self.after[i] = [], []
            for p in plugins:
                if not p["stages"][i]:
                    continue
                cfg = dict(p["cfg"])
                kind = cfg.pop("type")
                if p["position"] == "before_stage" and kind == "Maxpool2d":
                    name = f"maxpool2d_before_stage_{i + 1}"
                    self.add_module(name, Maxpool2d(**cfg))
                    self.before[i].append(name)
                elif p["position"] == "after_stage" and kind == "ConvModule":
                    name = f"conv_block_after_stage_{i + 1}"
                    self.add_module(name, ConvModule(planes, planes, cfg["kernel_size"],
                                                     cfg["stride"], cfg["padding"]))
                    self.after[i].append(name)
                else:
                    raise NotImplementedError(f"plugin {kind} at {p['position']}")
            layer = self._make_layer(self.inplanes, planes, blocks, stride, use_conv1x1, gca)
            self.inplanes = planes
            name = f"layer{i + 1}"
            self.add_module(name, layer)
            self.res_layers.append(name)

    @staticmethod
    def _make_layer(inplanes, planes, blocks, stride, use_conv1x1, gca) -> nn.Sequential:
        downsample = None
        if stride != (1, 1) or inplanes != planes:
            downsample = ConvModule(inplanes, planes, 1, stride, act=False)

        def block(c_in, s, ds):
            plugin = GCAModule(planes, **gca) if gca is not None else None
            return BasicBlock(c_in, planes, s, ds, use_conv1x1=use_conv1x1, plugin=plugin,
                              plugin_name="gca_module" if gca is not None else "")

        layers = [block(inplanes, stride, downsample)]
        layers += [block(planes, 1, None) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_layers(x)
        for i, name in enumerate(self.res_layers):
            for p in self.before[i]:
                x = getattr(self, p)(x)
            x = getattr(self, name)(x)
            for p in self.after[i]:
                x = getattr(self, p)(x)
        return x
