"""MASTER (Lu et al. 2021, "Multi-Aspect Non-local Network for Scene Text Recognition"),
MMOCR 1.x layout: ``ResNet`` (ResNet-31 layout with GCA blocks and pooling / conv plugins),
no encoder, ``MasterDecoder`` (3 pre-norm mmcv-style transformer layers, greedy decoding)."""
from __future__ import annotations

import math
from typing import Any, Dict, List

import torch
import torch.nn.functional as F
from torch import nn

from ._base import AttnRecognizer, attn_dictionary
from .resnet import ResNet
from .transformer import PositionalEncoding

DEFAULT_CFGS: Dict[str, Dict[str, Any]] = {
    "master_resnet31_12e_st_mj_sa": {
        "backbone": {
            "in_channels": 3, "stem_channels": [64, 128], "arch_layers": [1, 2, 5, 3],
            "arch_channels": [256, 256, 512, 512], "strides": [1, 1, 1, 1],
            "gca": {"ratio": 0.0625, "n_head": 1, "pooling_type": "att", "scale_attn": False,
                    "fusion_type": "channel_add"},
            "plugins": [
                {"cfg": {"type": "Maxpool2d", "kernel_size": 2, "stride": [2, 2]},
                 "stages": [True, True, False, False], "position": "before_stage"},
                {"cfg": {"type": "Maxpool2d", "kernel_size": [2, 1], "stride": [2, 1]},
                 "stages": [False, False, True, False], "position": "before_stage"},
                {"cfg": {"type": "ConvModule", "kernel_size": 3, "stride": 1, "padding": 1},
                 "stages": [True, True, True, True], "position": "after_stage"},
            ]},
        "decoder": {"n_layers": 3, "n_head": 8, "d_model": 512, "feat_size": 240,
                    "d_inner": 2048, "attn_drop": 0.0, "ffn_drop": 0.0, "feat_pe_drop": 0.2,
                    "max_seq_len": 30},
        "dictionary": attn_dictionary("english_digits_symbols"),
        "postprocessor": {"ignore_chars": ["padding"]},
        "input": {"channels": 3, "height": 48, "min_width": 48, "max_width": 160,
                  "width_divisor": 16, "pad_width": 160,
                  "mean": [127.5, 127.5, 127.5],
                  "std": [127.5, 127.5, 127.5], "color": "bgr"},
    },
}


class MHA(nn.Module):
    """mmcv ``MultiheadAttention`` (batch_first): identity + nn.MultiheadAttention(q, k, v)."""

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float = 0.0,
                 batch_first: bool = True) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.attn = nn.MultiheadAttention(embed_dims, num_heads, dropout=attn_drop)
        self.proj_drop = nn.Dropout(0.0)
        self.dropout_layer = nn.Dropout(attn_drop)

    def forward(self, query, key, value, identity=None, attn_mask=None):
        if identity is None:
            identity = query
        if self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        out = self.attn(query=query, key=key, value=value, attn_mask=attn_mask)[0]
        if self.batch_first:
            out = out.transpose(0, 1)
        return identity + self.dropout_layer(self.proj_drop(out))


class FFN(nn.Module):
    """mmcv ``FFN`` (2 fcs, ReLU): identity + fc2(relu(fc1(x)))."""

    def __init__(self, embed_dims: int, feedforward_channels: int, ffn_drop: float = 0.0
                 ) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(embed_dims, feedforward_channels), nn.ReLU(inplace=True),
                          nn.Dropout(ffn_drop)),
            nn.Linear(feedforward_channels, embed_dims), nn.Dropout(ffn_drop))
        self.dropout_layer = nn.Dropout(ffn_drop)

    def forward(self, x, identity=None):
        return (x if identity is None else identity) + self.dropout_layer(self.layers(x))


class MasterDecoderLayer(nn.Module):
    """mmcv ``BaseTransformerLayer`` with operation order
    (norm, self_attn, norm, cross_attn, norm, ffn) (pre-norm)."""

    def __init__(self, d_model: int, n_head: int, d_inner: int, attn_drop: float,
                 ffn_drop: float) -> None:
        super().__init__()
        self.attentions = nn.ModuleList([MHA(d_model, n_head, attn_drop) for _ in range(2)])
        self.ffns = nn.ModuleList([FFN(d_model, d_inner, ffn_drop)])
        self.norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in range(3)])

    def forward(self, query, feature, tgt_mask, src_mask=None):
        identity = query
        x = self.norms[0](query)
        query = self.attentions[0](x, x, x, identity, tgt_mask)
        identity = query
        query = self.attentions[1](self.norms[1](query), feature, feature, identity, src_mask)
        return self.ffns[0](self.norms[2](query), query)


class Embeddings(nn.Module):
    def __init__(self, d_model: int, vocab: int) -> None:
        super().__init__()
        self.lut = nn.Embedding(vocab, d_model)
        self.d_model = d_model

    def forward(self, x):
        return self.lut(x) * math.sqrt(self.d_model)


class MasterDecoder(nn.Module):
    def __init__(self, num_classes: int, start_idx: int, padding_idx: int, n_layers: int = 3,
                 n_head: int = 8, d_model: int = 512, feat_size: int = 240,
                 d_inner: int = 2048, attn_drop: float = 0.0, ffn_drop: float = 0.0,
                 feat_pe_drop: float = 0.2, max_seq_len: int = 30) -> None:
        super().__init__()
        self.decoder_layers = nn.ModuleList([
            MasterDecoderLayer(d_model, n_head, d_inner, attn_drop, ffn_drop)
            for _ in range(n_layers)])
        self.cls = nn.Linear(d_model, num_classes)
        self.SOS = start_idx
        self.PAD = padding_idx
        self.max_seq_len = max_seq_len
        self.feat_size = feat_size
        self.n_head = n_head
        self.embedding = Embeddings(d_model, num_classes)
        self.positional_encoding = PositionalEncoding(d_model, n_position=max_seq_len + 1)
        self.feat_positional_encoding = PositionalEncoding(d_model, n_position=feat_size,
                                                           dropout=feat_pe_drop)
        self.norm = nn.LayerNorm(d_model)
        self.softmax = nn.Softmax(dim=-1)

    def make_target_mask(self, tgt: torch.Tensor) -> torch.Tensor:
        pad = (tgt != self.PAD).unsqueeze(1).unsqueeze(3).bool()
        n = tgt.size(1)
        sub = torch.tril(torch.ones((n, n), dtype=torch.bool, device=tgt.device))
        keep = pad & sub
        mask = keep.float().masked_fill_(keep == 0, -1e9).masked_fill_(keep, 0)
        return mask.repeat(1, self.n_head, 1, 1).view(-1, n, n)

    def decode(self, tgt_seq, feature, src_mask, tgt_mask):
        x = self.positional_encoding(self.embedding(tgt_seq))
        for layer in self.decoder_layers:
            x = layer(x, feature, tgt_mask, src_mask)
        return self.cls(self.norm(x))

    def forward(self, feat: torch.Tensor, valid_ratios=None) -> torch.Tensor:
        n, c, h, w = feat.shape
        feat = self.feat_positional_encoding(feat.view(n, c, h * w).permute(0, 2, 1))
        seq = torch.full((n, 1), self.SOS, device=feat.device, dtype=torch.long)
        out = None
        for _ in range(self.max_seq_len):
            out = self.decode(seq, feat, None, self.make_target_mask(seq))
            _, next_word = torch.max(F.softmax(out, dim=-1), dim=-1)
            seq = torch.cat([seq, next_word[:, -1].unsqueeze(-1)], dim=1)
        return self.softmax(out)


class MASTER(AttnRecognizer):
    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__(cfg)
        self.backbone = ResNet(**cfg["backbone"])
        self.decoder = MasterDecoder(self.dictionary.num_classes, self.dictionary.start_idx,
                                     self.dictionary.padding_idx, **cfg["decoder"])

    def forward(self, x: torch.Tensor, valid_ratios: List[float] | None = None):
        return self.decoder(self.backbone(x), valid_ratios)


def build_master(name: str = "master_resnet31_12e_st_mj_sa") -> MASTER:
    return MASTER(DEFAULT_CFGS[name])
