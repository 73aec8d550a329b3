"""DBHead (MMOCR 1.x): probability (binarize) and threshold branches.

Both branches are conv3x3(C -> C/4, no bias) + BN + ReLU, deconv 2x2/2 + BN + ReLU,
deconv 2x2/2 -> 1 channel, i.e. 4x upsampling of the 1/4-resolution neck output. The
threshold branch ends with a Sigmoid (index 7, no parameters); the binarize branch
keeps its logits and ``self.sigmoid`` is applied after it, as in MMOCR 1.x.
"""
from __future__ import annotations

import torch
from torch import nn


def _branch(in_channels: int, bias: bool, final_sigmoid: bool) -> nn.Sequential:
    mid = in_channels // 4
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, mid, 3, padding=1, bias=bias),
        nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
        nn.ConvTranspose2d(mid, mid, 2, 2),
        nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
        nn.ConvTranspose2d(mid, 1, 2, 2),
    ]
    if final_sigmoid:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


class DBHead(nn.Module):
    """``forward(x, mode='predict')`` -> prob map (N, H, W) after sigmoid.

    ``mode='both'`` (or 'loss') returns (prob_logits, thr_map, binary_map), each (N, H, W),
    with binary_map = 1 / (1 + exp(-k (prob - thr))), k = 50.
    """

    def __init__(self, in_channels: int, with_bias: bool = False) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.binarize = _branch(in_channels, with_bias, final_sigmoid=False)
        self.threshold = _branch(in_channels, False, final_sigmoid=True)
        self.sigmoid = nn.Sigmoid()

    @staticmethod
    def diff_binarize(prob_map: torch.Tensor, thr_map: torch.Tensor, k: float) -> torch.Tensor:
        return torch.reciprocal(1.0 + torch.exp(-k * (prob_map - thr_map)))

    def forward(self, x: torch.Tensor, mode: str = "predict"):
        prob_logits = self.binarize(x).squeeze(1)
        prob_map = self.sigmoid(prob_logits)
        if mode == "predict":
            return prob_map
        if mode not in ("both", "loss"):
            raise ValueError(f"mode must be 'predict', 'both' or 'loss', got {mode!r}")
        thr_map = self.threshold(x).squeeze(1)
        binary_map = self.diff_binarize(prob_map, thr_map, k=50)
        return prob_logits, thr_map, binary_map
