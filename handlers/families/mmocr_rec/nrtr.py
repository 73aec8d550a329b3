"""NRTR (Sheng et al. 2019, "NRTR: A No-Recurrence Sequence-to-Sequence Model"), MMOCR 1.x
layout: ``ResNet31OCR`` (1/16 x 1/8 variant) backbone, ``NRTREncoder`` (pre-norm transformer
encoder over the flattened feature map), ``NRTRDecoder`` (greedy attention decoding)."""
from __future__ import annotations

from typing import Any, Dict, List

import torch
from torch import nn

from ._base import AttnRecognizer, attn_dictionary
from .resnet31 import ResNet31OCR
from .valid_ratio import valid_columns
from .transformer import MultiHeadAttention, NRTRDecoder, PositionwiseFeedForward

DEFAULT_CFGS: Dict[str, Dict[str, Any]] = {
    "nrtr_resnet31-1by16-1by8_6e_st_mj": {
        "backbone": {"layers": [1, 2, 5, 3], "channels": [32, 64, 128, 256, 512, 512],
                     "stage4_pool_cfg": {"kernel_size": [2, 1], "stride": [2, 1]},
                     "last_stage_pool": True},
        "encoder": {"n_layers": 6, "n_head": 8, "d_k": 64, "d_v": 64, "d_model": 512,
                    "d_inner": 256, "dropout": 0.1},
        "decoder": {"n_layers": 6, "d_embedding": 512, "n_head": 8, "d_k": 64, "d_v": 64,
                    "d_model": 512, "d_inner": 256, "n_position": 200, "dropout": 0.1,
                    "max_seq_len": 30},
        "dictionary": attn_dictionary("english_digits_symbols"),
        "postprocessor": {"ignore_chars": ["padding"]},
        # BGR input, ImageNet RGB mean/std applied in B,G,R order (MMOCR quirk)
        "input": {"channels": 3, "height": 32, "min_width": 32, "max_width": 160,
                  "width_divisor": 16, "pad_width": 160,
                  "mean": [123.675, 116.28, 103.53],
                  "std": [58.395, 57.12, 57.375], "color": "bgr"},
    },
}


class TFEncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer: x + attn(norm1(x)); x + mlp(norm2(x))."""

    def __init__(self, d_model: int = 512, d_inner: int = 256, n_head: int = 8, d_k: int = 64,
                 d_v: int = 64, dropout: float = 0.1, qkv_bias: bool = False) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(n_head, d_model, d_k, d_v, dropout, qkv_bias)
        self.norm1 = nn.LayerNorm(d_model)
        self.mlp = PositionwiseFeedForward(d_model, d_inner, dropout, act="gelu")
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, x, mask=None):
        y = self.norm1(x)
        x = x + self.attn(y, y, y, mask)
        return x + self.mlp(self.norm2(x))


class NRTREncoder(nn.Module):
    def __init__(self, n_layers: int = 6, n_head: int = 8, d_k: int = 64, d_v: int = 64,
                 d_model: int = 512, d_inner: int = 256, dropout: float = 0.1) -> None:
        super().__init__()
        self.d_model = d_model
        self.layer_stack = nn.ModuleList([
            TFEncoderLayer(d_model, d_inner, n_head, d_k, d_v, dropout=dropout)
            for _ in range(n_layers)])
        self.layer_norm = nn.LayerNorm(d_model)

    def forward(self, feat: torch.Tensor, valid_ratios=None) -> torch.Tensor:
        n, c, h, w = feat.size()
        feat = feat.view(n, c, h * w).permute(0, 2, 1).contiguous()
        mask = valid_columns(valid_ratios, feat, feat.size(1)).to(feat.dtype)
        out = feat
        for layer in self.layer_stack:
            out = layer(out, mask)
        return self.layer_norm(out)


class NRTR(AttnRecognizer):
    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__(cfg)
        self.backbone = ResNet31OCR(**cfg["backbone"])
        self.encoder = NRTREncoder(**cfg["encoder"])
        self.decoder = NRTRDecoder(self.dictionary.num_classes, self.dictionary.padding_idx,
                                   self.dictionary.start_idx, **cfg["decoder"])

    def forward(self, x: torch.Tensor, valid_ratios: List[float] | None = None):
        out_enc = self.encoder(self.backbone(x), valid_ratios)
        return self.decoder(out_enc, valid_ratios)


def build_nrtr(name: str = "nrtr_resnet31-1by16-1by8_6e_st_mj") -> NRTR:
    return NRTR(DEFAULT_CFGS[name])
