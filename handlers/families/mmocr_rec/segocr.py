"""SegOCR (MMOCR 0.x ``seg_r31_1by16_fpnocr_academic``: segmentation-based recognition, one
class per pixel), 0.x names: ``backbone`` = ``ResNet31OCR`` (32..512 channels, every stage
pooled, the four stage outputs), ``neck`` = ``FPNOCR`` (1x1 laterals, top-down x2 bilinear,
concat + 1x1 + 3x3 smoothing), ``head`` = ``SegHead`` (3x3 ConvModule, 1x1 classifier, x2
nearest) -> class logits at input resolution. Classes: ``<BG>``, DICT36, ``<UKN>``.

Post-processing (0.x ``SegConvertor.tensor2str``), pure numpy + OpenCV: per-pixel argmax,
8-connected components of the non-background pixels, each component's majority class and
its share of the component's pixels as the score, components read left to right by centroid
x, components whose majority has fewer than 20 pixels dropped, ``<UKN>`` read as no character
(its score is still listed, as in MMOCR)."""
from __future__ import annotations

from typing import Any, Dict, List, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .charsets import CHARSETS
from .decoding import RecResult
from .resnet import ConvModule
from .resnet31 import ResNet31OCR

DEFAULT_CFGS: Dict[str, Dict[str, Any]] = {
    "seg_r31_1by16_fpnocr_academic": {
        "backbone": {"layers": [1, 2, 5, 3], "channels": [32, 64, 128, 256, 512, 512],
                     "stage4_pool_cfg": {"kernel_size": (2, 2), "stride": (2, 2)},
                     "last_stage_pool": True},
        "neck": {"in_channels": [128, 256, 512, 512], "out_channels": 256},
        "head": {"in_channels": 256, "upsample_param": {"scale_factor": 2.0, "mode": "nearest"}},
        "charset": "lower_english_digits",
        "postprocessor": {"min_area": 20},
        # 0.x test pipeline: BGR, ResizeOCR height 64, min width 64, keep ratio, width
        # ceil(64 * w / h) rounded to the nearest multiple of 16 (the handler rounds down);
        # then mmdet's Normalize with to_rgb=True: ImageNet mean/std on R, G, B (unlike the
        # 1.x recognisers, which normalise B, G, R; the 0.x oracle's preproc case pins it)
        "input": {"channels": 3, "height": 64, "min_width": 64, "width_divisor": 16,
                  "mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375],
                  "color": "rgb"},
    },
}


class ResNet31Stages(ResNet31OCR):
    """ResNet31OCR returning the output of each of its four stages (0.x ``out_indices``)."""

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        return self.stages(x)


class FPNOCR(nn.Module):
    def __init__(self, in_channels: Sequence[int], out_channels: int) -> None:
        super().__init__()
        n = len(in_channels)
        self.lateral_convs = nn.ModuleList([ConvModule(c, out_channels, 1) for c in in_channels])
        self.smooth_convs_1x1 = nn.ModuleList(
            [ConvModule(out_channels * 2, out_channels, 1) for _ in range(n - 1)])
        self.smooth_convs_3x3 = nn.ModuleList(
            [ConvModule(out_channels, out_channels, 3, 1, 1) for _ in range(n - 1)])

    def forward(self, feats: List[torch.Tensor]) -> torch.Tensor:
        """Top-down: the finest fused map (last_stage_only)."""
        lateral = [conv(f) for conv, f in zip(self.lateral_convs, feats)]
        out = lateral[-1]
        for i in range(len(self.smooth_convs_3x3), 0, -1):
            up = F.interpolate(out, scale_factor=2, mode="bilinear")
            out = self.smooth_convs_3x3[i - 1](
                self.smooth_convs_1x1[i - 1](torch.cat((up, lateral[i - 1]), dim=1)))
        return out


class SegHead(nn.Module):
    def __init__(self, in_channels: int, num_classes: int,
                 upsample_param: Dict[str, Any] | None = None) -> None:
        super().__init__()
        self.upsample_param = upsample_param
        self.seg_conv = ConvModule(in_channels, in_channels, 3, 1, 1)
        self.pred_conv = nn.Conv2d(in_channels, num_classes, kernel_size=1)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        seg = self.pred_conv(self.seg_conv(feat))
        return F.interpolate(seg, **self.upsample_param) if self.upsample_param else seg


def seg_decode(class_map: np.ndarray, idx2char: Sequence[str], unknown_idx: int | None,
               min_area: int = 20) -> RecResult:
    """(H, W) per-pixel class indexes (0 = background) -> text and per-component scores."""
    fg = np.where(class_map == 0, 0, 255).astype(np.uint8)
    n, labels, _, centroids = cv2.connectedComponentsWithStats(fg)
    found = []
    for i in range(n):
        values = class_map[labels == i]
        counts = np.bincount(values, minlength=len(idx2char))[:len(idx2char)]
        cls = int(np.argmax(counts))  # first class on ties, like MMOCR's strict '>'
        if cls == 0 or counts[cls] < min_area:
            continue
        found.append((float(centroids[i][0]), cls, float(counts[cls]) / values.size))
    found.sort(key=lambda item: item[0])  # stable: ties keep label order, as sorted() does
    text = "".join("" if cls == unknown_idx else idx2char[cls] for _, cls, _ in found)
    return RecResult(text, [score for _, _, score in found])


class SegOCR(nn.Module):
    """``forward`` -> per-pixel class logits (N, C, H, W); ``postprocess`` -> texts."""

    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__()
        self.cfg = cfg
        self.idx2char = ["<BG>"] + list(CHARSETS[cfg["charset"]]) + ["<UKN>"]
        self.unknown_idx = len(self.idx2char) - 1
        self.min_area = cfg["postprocessor"]["min_area"]
        self.backbone = ResNet31Stages(**cfg["backbone"])
        self.neck = FPNOCR(**cfg["neck"])
        self.head = SegHead(num_classes=len(self.idx2char), **cfg["head"])

    def forward(self, x: torch.Tensor, valid_ratios: List[float] | None = None) -> torch.Tensor:
        if x.size(2) % 16 or x.size(3) % 16:
            raise ValueError(f"SegOCR input height and width must be multiples of 16, "
                             f"got {tuple(x.shape[2:])}")
        return self.head(self.neck(self.backbone(x)))

    def postprocess(self, logits: torch.Tensor, valid_ratios: List[float] | None = None
                    ) -> List[RecResult]:
        """Argmax over the valid columns (MMOCR keeps int(W * ratio + 1)), then ``seg_decode``."""
        if valid_ratios is None:
            valid_ratios = [1.0] * logits.size(0)
        results = []
        for seg, ratio in zip(logits, valid_ratios):
            width = int(seg.size(-1) * ratio + 1)
            class_map = seg[:, :, :width].argmax(0).cpu().numpy().astype(np.int32)
            results.append(seg_decode(class_map, self.idx2char, self.unknown_idx, self.min_area))
        return results

    @torch.no_grad()
    def predict(self, x: torch.Tensor, valid_ratios: List[float] | None = None
                ) -> List[RecResult]:
        return self.postprocess(self.forward(x), valid_ratios)


def build_segocr(name: str = "seg_r31_1by16_fpnocr_academic") -> SegOCR:
    return SegOCR(DEFAULT_CFGS[name])
