"""SATRN (Lee et al. 2020, "On Recognizing Texts of Arbitrary Shapes with 2D Self-Attention"),
MMOCR 1.x layout: ``ShallowCNN`` backbone, ``SATRNEncoder`` (adaptive 2D positional encoding,
locality-aware feed-forward), ``NRTRDecoder`` (greedy attention decoding)."""
from __future__ import annotations

from typing import Any, Dict, List

import torch
from torch import nn

from ._base import AttnRecognizer
from .transformer import ConvModule, MultiHeadAttention, NRTRDecoder, sinusoid_table
from .valid_ratio import valid_columns

DEFAULT_CFGS: Dict[str, Dict[str, Any]] = {
    "satrn_shallow-small_5e_st_mj": {
        "backbone": {"input_channels": 3, "hidden_dim": 256},
        "encoder": {"n_layers": 6, "n_head": 8, "d_k": 32, "d_v": 32, "d_model": 256,
                    "n_position": 100, "d_inner": 1024, "dropout": 0.1},
        "decoder": {"n_layers": 6, "d_embedding": 256, "n_head": 8, "d_model": 256,
                    "d_inner": 1024, "d_k": 32, "d_v": 32, "max_seq_len": 25},
        "dictionary": {"charset": "english_digits_symbols", "with_start": True,
                       "with_end": True, "same_start_end": True, "with_padding": True,
                       "with_unknown": True},
        "postprocessor": {"ignore_chars": ["padding"]},
        # BGR input, ImageNet RGB mean/std applied in B,G,R order (MMOCR quirk)
        "input": {"channels": 3, "height": 32, "width": 100,
                  "mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375],
                  "color": "bgr"},
    },
}


class ShallowCNN(nn.Module):
    def __init__(self, input_channels: int = 1, hidden_dim: int = 512) -> None:
        super().__init__()
        self.conv1 = ConvModule(input_channels, hidden_dim // 2, 3, 1, 1)
        self.conv2 = ConvModule(hidden_dim // 2, hidden_dim, 3, 1, 1)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2, padding=0)

    def forward(self, x):
        return self.pool(self.conv2(self.pool(self.conv1(x))))


def _scale_factor_generate(d_hid: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(d_hid, d_hid, 1), nn.ReLU(inplace=True),
                         nn.Conv2d(d_hid, d_hid, 1), nn.Sigmoid())


class Adaptive2DPositionalEncoding(nn.Module):
    def __init__(self, d_hid: int = 512, n_height: int = 100, n_width: int = 100,
                 dropout: float = 0.1) -> None:
        super().__init__()
        h = sinusoid_table(n_height, d_hid).transpose(0, 1).reshape(1, d_hid, n_height, 1)
        w = sinusoid_table(n_width, d_hid).transpose(0, 1).reshape(1, d_hid, 1, n_width)
        self.register_buffer("h_position_encoder", h)
        self.register_buffer("w_position_encoder", w)
        self.h_scale = _scale_factor_generate(d_hid)
        self.w_scale = _scale_factor_generate(d_hid)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        _, _, h, w = x.size()
        avg = self.pool(x)
        h_enc = self.h_scale(avg) * self.h_position_encoder[:, :, :h, :]
        w_enc = self.w_scale(avg) * self.w_position_encoder[:, :, :, :w]
        return self.dropout(x + h_enc + w_enc)


class LocalityAwareFeedforward(nn.Module):
    def __init__(self, d_in: int, d_hid: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.conv1 = ConvModule(d_in, d_hid, 1, 1, 0)
        self.depthwise_conv = ConvModule(d_hid, d_hid, 3, 1, 1, groups=d_hid)
        self.conv2 = ConvModule(d_hid, d_in, 1, 1, 0)

    def forward(self, x):
        return self.conv2(self.depthwise_conv(self.conv1(x)))


class SATRNEncoderLayer(nn.Module):
    def __init__(self, d_model: int = 512, d_inner: int = 512, n_head: int = 8, d_k: int = 64,
                 d_v: int = 64, dropout: float = 0.1, qkv_bias: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(n_head, d_model, d_k, d_v, dropout, qkv_bias)
        self.norm2 = nn.LayerNorm(d_model)
        self.feed_forward = LocalityAwareFeedforward(d_model, d_inner, dropout=dropout)

    def forward(self, x, h: int, w: int, mask=None):
        n, hw, c = x.size()
        residual = x
        y = self.norm1(x)
        x = residual + self.attn(y, y, y, mask)
        residual = x
        y = self.norm2(x).transpose(1, 2).contiguous().view(n, c, h, w)
        y = self.feed_forward(y).view(n, c, hw).transpose(1, 2)
        return residual + y


class SATRNEncoder(nn.Module):
    def __init__(self, n_layers: int = 12, n_head: int = 8, d_k: int = 64, d_v: int = 64,
                 d_model: int = 512, n_position: int = 100, d_inner: int = 256,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.d_model = d_model
        self.position_enc = Adaptive2DPositionalEncoding(d_model, n_position, n_position,
                                                         dropout)
        self.layer_stack = nn.ModuleList([
            SATRNEncoderLayer(d_model, d_inner, n_head, d_k, d_v, dropout=dropout)
            for _ in range(n_layers)])
        self.layer_norm = nn.LayerNorm(d_model)

    def forward(self, feat, valid_ratios=None):
        feat = self.position_enc(feat)
        n, c, h, w = feat.size()
        columns = valid_columns(valid_ratios, feat, w).to(feat.dtype)
        mask = columns.unsqueeze(1).expand(n, h, w).reshape(n, h * w)
        out = feat.view(n, c, h * w).permute(0, 2, 1).contiguous()
        for layer in self.layer_stack:
            out = layer(out, h, w, mask)
        return self.layer_norm(out)


class SATRN(AttnRecognizer):
    """``forward(x, valid_ratios)`` returns softmax probabilities (N, max_seq_len, C)."""

    needs_padding = True

    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__(cfg)
        self.backbone = ShallowCNN(**cfg["backbone"])
        self.encoder = SATRNEncoder(**cfg["encoder"])
        self.decoder = NRTRDecoder(self.dictionary.num_classes, self.dictionary.padding_idx,
                                   self.dictionary.start_idx, **cfg["decoder"])

    def forward(self, x: torch.Tensor, valid_ratios: List[float] | None = None):
        out_enc = self.encoder(self.backbone(x), valid_ratios)
        return self.decoder(out_enc, valid_ratios)


def build_satrn(name: str = "satrn_shallow-small_5e_st_mj") -> SATRN:
    return SATRN(DEFAULT_CFGS[name])
