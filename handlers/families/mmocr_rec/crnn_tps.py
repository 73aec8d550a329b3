"""CRNN with a TPS spatial transformer (MMOCR 0.x ``crnn_tps_academic_dataset``: RARE's
rectification network, Shi et al. 2016, in front of CRNN), 0.x names so its checkpoints load
with ``strict=True``: ``preprocessor.LocalizationNetwork`` (4 conv-BN-ReLU stages, two fcs ->
20 fiducial points), ``preprocessor.GridGenerator`` (buffers ``inv_delta_C``, ``P_hat``),
then the CRNN ``backbone`` / ``decoder`` of ``crnn.py``.

0.x's ``CTCConvertor`` puts the CTC blank at index 0 (1.x puts it last): ``forward`` keeps the
checkpoint's class order, ``postprocess`` moves the blank last and decodes like 1.x."""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .crnn import CRNN
from handlers.ops.ctc_decode import DecodedText

DEFAULT_CFGS: Dict[str, Dict[str, Any]] = {
    "crnn_tps_academic_dataset": {
        "preprocessor": {"num_fiducial": 20, "rectified_img_size": (32, 100),
                         "num_img_channel": 1},
        "backbone": {"leaky_relu": False, "input_channels": 1},
        "decoder": {"in_channels": 512, "rnn_flag": True, "hidden": 256},
        # DICT36, no unknown; decoded with the blank moved last (see module docstring)
        "dictionary": {"charset": "lower_english_digits", "with_padding": True},
        "postprocessor": {"ignore_chars": ["padding"]},
        # 0.x test pipeline: grayscale, ResizeOCR to 32 x 100 (no aspect ratio), /255,
        # normalise 0.5 / 0.5
        "input": {"channels": 1, "height": 32, "width": 100,
                  "mean": [127.5], "std": [127.5], "color": "grayscale"},
    },
}


def fiducial_points(num_fiducial: int) -> np.ndarray:
    """Rectified-image control points C (K, 2): K/2 along the top edge, K/2 along the bottom."""
    x = np.linspace(-1.0, 1.0, num_fiducial // 2)
    top = np.stack([x, -np.ones_like(x)], axis=1)
    bottom = np.stack([x, np.ones_like(x)], axis=1)
    return np.concatenate([top, bottom], axis=0)


def rare_initial_points(num_fiducial: int) -> np.ndarray:
    """RARE's initial fc2 bias: top edge y 0 -> -1, bottom edge y 1 -> 0 (not the identity)."""
    x = np.linspace(-1.0, 1.0, num_fiducial // 2)
    top = np.stack([x, np.linspace(0.0, -1.0, num_fiducial // 2)], axis=1)
    bottom = np.stack([x, np.linspace(1.0, 0.0, num_fiducial // 2)], axis=1)
    return np.concatenate([top, bottom], axis=0)


def _rbf(d: np.ndarray) -> np.ndarray:
    return d ** 2 * np.log(d)


def tps_inverse_delta(ctrl: np.ndarray) -> np.ndarray:
    """Inverse of the (K+3, K+3) TPS system [[1, C, R], [0, C^T], [0, 1^T]]."""
    k = ctrl.shape[0]
    dist = np.linalg.norm(ctrl[:, None] - ctrl[None], axis=2)
    np.fill_diagonal(dist, 1)  # r^2 log r = 0 on the diagonal
    delta = np.concatenate([
        np.concatenate([np.ones((k, 1)), ctrl, _rbf(dist)], axis=1),
        np.concatenate([np.zeros((2, 3)), ctrl.T], axis=1),
        np.concatenate([np.zeros((1, 3)), np.ones((1, k))], axis=1)], axis=0)
    return np.linalg.inv(delta)


def pixel_grid(height: int, width: int) -> np.ndarray:
    """Pixel centres of the rectified image in [-1, 1], row-major (H*W, 2) as (x, y)."""
    gx = (np.arange(-width, width, 2) + 1.0) / width
    gy = (np.arange(-height, height, 2) + 1.0) / height
    return np.stack(np.meshgrid(gx, gy), axis=2).reshape(-1, 2)


def tps_kernel(ctrl: np.ndarray, grid: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """P_hat (n, K+3): [1, x, y, r^2 log(r + eps)] of every grid point to every control point."""
    r = np.linalg.norm(grid[:, None] - ctrl[None], axis=2)
    return np.concatenate([np.ones((grid.shape[0], 1)), grid, r ** 2 * np.log(r + eps)], axis=1)


class LocalizationNetwork(nn.Module):
    """Image -> K fiducial points in [-1, 1] (input coordinates)."""

    def __init__(self, num_fiducial: int, num_img_channel: int) -> None:
        super().__init__()
        self.num_fiducial = num_fiducial
        layers: List[nn.Module] = []
        c_in = num_img_channel
        for i, c_out in enumerate((64, 128, 256, 512)):
            layers += [nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(True), nn.MaxPool2d(2, 2) if i < 3 else nn.AdaptiveAvgPool2d(1)]
            c_in = c_out
        self.conv = nn.Sequential(*layers)
        self.localization_fc1 = nn.Sequential(nn.Linear(512, 256), nn.ReLU(True))
        self.localization_fc2 = nn.Linear(256, num_fiducial * 2)
        self.localization_fc2.weight.data.fill_(0)
        self.localization_fc2.bias.data = torch.from_numpy(
            rare_initial_points(num_fiducial)).float().view(-1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        feat = self.conv(img).view(img.size(0), -1)
        return self.localization_fc2(self.localization_fc1(feat)).view(
            img.size(0), self.num_fiducial, 2)


class GridGenerator(nn.Module):
    """Fiducial points C' -> sampling grid P' = P_hat @ inv_delta_C @ [C'; 0]."""

    def __init__(self, num_fiducial: int, rectified_img_size: Tuple[int, int]) -> None:
        super().__init__()
        ctrl = fiducial_points(num_fiducial)
        grid = pixel_grid(*rectified_img_size)
        self.register_buffer("inv_delta_C", torch.tensor(tps_inverse_delta(ctrl)).float())
        self.register_buffer("P_hat", torch.tensor(tps_kernel(ctrl, grid)).float())

    def build_P_prime(self, points: torch.Tensor) -> torch.Tensor:
        n = points.size(0)
        padded = torch.cat((points, points.new_zeros(n, 3, 2)), dim=1)
        transform = torch.bmm(self.inv_delta_C.expand(n, -1, -1), padded)
        return torch.bmm(self.P_hat.expand(n, -1, -1), transform)


class TPSPreprocessor(nn.Module):
    """RARE rectification: localisation -> TPS grid -> bilinear sampling (border padding)."""

    def __init__(self, num_fiducial: int = 20, rectified_img_size: Sequence[int] = (32, 100),
                 num_img_channel: int = 1) -> None:
        super().__init__()
        self.rectified_img_size = tuple(rectified_img_size)
        self.LocalizationNetwork = LocalizationNetwork(num_fiducial, num_img_channel)
        self.GridGenerator = GridGenerator(num_fiducial, self.rectified_img_size)

    def rectify(self, img: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Sample ``img`` on the grid of the given fiducial points (N, K, 2)."""
        grid = self.GridGenerator.build_P_prime(points).reshape(
            img.size(0), *self.rectified_img_size, 2)
        return F.grid_sample(img, grid, padding_mode="border", align_corners=True)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.rectify(img, self.LocalizationNetwork(img))


def blank_last(probs: torch.Tensor) -> torch.Tensor:
    """0.x class order (blank, chars...) -> 1.x dictionary order (chars..., blank)."""
    return torch.cat([probs[..., 1:], probs[..., :1]], dim=-1)


class CRNNTPS(CRNN):
    """``forward`` -> softmax probabilities (N, T, C) in the 0.x order (blank = 0)."""

    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__(cfg)
        self.preprocessor = TPSPreprocessor(**cfg["preprocessor"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.backbone(self.preprocessor(x)))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step logits (N, T, C) before the softmax, in the 0.x order (blank = 0)."""
        return self.decoder.logits(self.backbone(self.preprocessor(x)))

    def postprocess(self, probs: torch.Tensor, valid_ratios: List[float] | None = None
                    ) -> List[DecodedText]:
        return super().postprocess(blank_last(probs), valid_ratios)


def build_crnn_tps(name: str = "crnn_tps_academic_dataset") -> CRNNTPS:
    return CRNNTPS(DEFAULT_CFGS[name])
