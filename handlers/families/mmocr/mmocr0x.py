"""MMOCR 0.x detector checkpoints: the networks they were trained as, where 1.x changed more than names.

Every 0.x single-stage detector called its head ``bbox_head`` (``convert_mmocr0x_state_dict``
renames it). For DBNet, FCENet and TextSnake that is all; PANet and PSENet also changed
(0.x configs ``_base_/det_models/panet_r18_fpem_ffm.py`` / ``psenet_r50_fpnf.py`` and 0.x
``PANHead``, read for these facts):

* head: 0.x ``PANHead`` / ``PSEHead`` is one 1x1 conv ``out_conv`` over the concatenated neck
  maps; 1.x has ``conv1`` (3x3) -> ``bn1`` -> ReLU -> ``conv2`` (1x1);
* PANet backbone: 0.x ResNet-18 with the plain 7x7 stem (``conv1``/``bn1``, 64 channels),
  caffe style; 1.x uses a 128-channel deep stem (``stem.*``);
* PSENet backbone: 0.x caffe style (the stride on the first 1x1 conv of a bottleneck), 1.x
  pytorch style. The key names are the same, so only the 0.x head tells the two apart.

``as_mmocr0x(model, arch, state)`` rebuilds those parts when ``state`` has a 0.x head.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from handlers.families.mmocr.resnet import ResNet

#: 0.x backbones of the configs whose network changed in 1.x.
BACKBONES_0X: dict[str, dict[str, Any]] = {
    "panet_resnet18_fpem-ffm_600e_icdar2015": {"depth": 18, "num_stages": 4, "out_indices": (0, 1, 2, 3),
                                               "style": "caffe"},
    "psenet_resnet50_fpnf_600e_icdar2015": {"depth": 50, "num_stages": 4, "out_indices": (0, 1, 2, 3),
                                            "style": "caffe"},
}


class OutConvHead(nn.Module):
    """MMOCR 0.x PANHead / PSEHead: concatenate the neck's maps, one 1x1 conv ``out_conv``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.out_conv = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, inputs) -> torch.Tensor:
        x = torch.cat(inputs, dim=1) if isinstance(inputs, (tuple, list)) else inputs
        return self.out_conv(x)


def has_0x_head(state: Mapping[str, Any]) -> bool:
    """True for a PANet/PSENet state_dict (1.x key names) whose head is 0.x's single conv."""
    return "det_head.out_conv.weight" in state and "det_head.conv1.weight" not in state


def as_mmocr0x(model: nn.Module, arch: str, state: Mapping[str, Any]) -> nn.Module:
    """`model` with its 0.x backbone and head when `state` is a 0.x PANet/PSENet; else unchanged."""
    if arch not in BACKBONES_0X or not has_0x_head(state):
        return model
    weight = state["det_head.out_conv.weight"]
    model.backbone = ResNet(**BACKBONES_0X[arch])
    model.det_head = OutConvHead(weight.shape[1], weight.shape[0])
    return model.eval()
