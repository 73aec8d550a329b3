"""RobustScanner (Yue et al. 2020), MMOCR 1.x layout: ``ResNet31OCR`` backbone,
``ChannelReductionEncoder`` (1x1 conv), ``RobustScannerFuser`` = ``SequenceAttentionDecoder``
(hybrid branch, LSTM over the decoded prefix) + ``PositionAttentionDecoder`` (position branch)
fused by linear + GLU; greedy decoding."""
from __future__ import annotations

from typing import Any, Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ._base import FeatEncoderDecoderRecognizer, attn_dictionary
from .resnet31 import ResNet31OCR
from .valid_ratio import valid_columns

DEFAULT_CFGS: Dict[str, Dict[str, Any]] = {
    "robustscanner_resnet31_5e_st-sub_mj-sub_sa_real": {
        "backbone": {},  # ResNet31OCR defaults
        "encoder": {"in_channels": 512, "out_channels": 128},
        "hybrid_decoder": {"rnn_layers": 2, "dim_input": 512, "dim_model": 128},
        "position_decoder": {"rnn_layers": 2, "dim_input": 512, "dim_model": 128},
        "fuser": {"in_channels": [512, 512], "max_seq_len": 30},
        "dictionary": attn_dictionary("english_digits_symbols"),
        "postprocessor": {"ignore_chars": ["padding"]},
        "input": {"channels": 3, "height": 48, "min_width": 48, "max_width": 160,
                  "width_divisor": 4, "pad_width": 160,
                  "mean": [127, 127, 127], "std": [127, 127, 127],
                  "color": "bgr"},
    },
}


class ChannelReductionEncoder(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.layer = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0)

    def forward(self, feat: torch.Tensor, valid_ratios=None) -> torch.Tensor:
        return self.layer(feat)


class DotProductAttentionLayer(nn.Module):
    def __init__(self, dim_model: Optional[int] = None) -> None:
        super().__init__()
        self.scale = dim_model ** -0.5 if dim_model is not None else 1.0

    def forward(self, query, key, value, mask=None):
        logits = torch.matmul(query.permute(0, 2, 1), key) * self.scale
        if mask is not None:
            logits = logits.masked_fill(mask.view(mask.size(0), 1, mask.size(1)),
                                        float("-inf"))
        weights = F.softmax(logits, dim=2)
        return torch.matmul(weights, value.transpose(1, 2)).permute(0, 2, 1).contiguous()


def _width_mask(ref: torch.Tensor, n: int, h: int, w: int, valid_ratios) -> torch.Tensor:
    padded = ~valid_columns(valid_ratios, ref, w)
    return padded.unsqueeze(1).expand(n, h, w).reshape(n, h * w)


class SequenceAttentionDecoder(nn.Module):
    """Hybrid branch (return_feature=True: no prediction layer)."""

    def __init__(self, num_classes: int, padding_idx: Optional[int], rnn_layers: int = 2,
                 dim_input: int = 512, dim_model: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        self.dim_input, self.dim_model = dim_input, dim_model
        self.embedding = nn.Embedding(num_classes, dim_model, padding_idx=padding_idx)
        self.sequence_layer = nn.LSTM(input_size=dim_model, hidden_size=dim_model,
                                      num_layers=rnn_layers, batch_first=True, dropout=dropout)
        self.attention_layer = DotProductAttentionLayer()

    def forward_test_step(self, feat, out_enc, decode_sequence, step: int, valid_ratios):
        embed = self.embedding(decode_sequence)
        n, c_enc, h, w = out_enc.size()
        query, _ = self.sequence_layer(embed)
        query = query.permute(0, 2, 1).contiguous()
        key = out_enc.view(n, c_enc, h * w)
        value = feat.view(n, feat.size(1), h * w)
        mask = _width_mask(query, n, h, w, valid_ratios) if valid_ratios is not None else None
        return self.attention_layer(query, key, value, mask)[:, :, step]


class PositionAwareLayer(nn.Module):
    def __init__(self, dim_model: int, rnn_layers: int = 2) -> None:
        super().__init__()
        self.dim_model = dim_model
        self.rnn = nn.LSTM(input_size=dim_model, hidden_size=dim_model, num_layers=rnn_layers,
                           batch_first=True)
        self.mixer = nn.Sequential(nn.Conv2d(dim_model, dim_model, 3, 1, 1), nn.ReLU(True),
                                   nn.Conv2d(dim_model, dim_model, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.size()
        y, _ = self.rnn(x.permute(0, 2, 3, 1).contiguous().view(n * h, w, c))
        return self.mixer(y.view(n, h, w, c).permute(0, 3, 1, 2).contiguous())


class PositionAttentionDecoder(nn.Module):
    """Position branch (return_feature=True: returns the glimpses, (N, T, dim_input))."""

    def __init__(self, max_seq_len: int, rnn_layers: int = 2, dim_input: int = 512,
                 dim_model: int = 128) -> None:
        super().__init__()
        self.max_seq_len = max_seq_len
        self.dim_input, self.dim_model = dim_input, dim_model
        self.embedding = nn.Embedding(max_seq_len + 1, dim_model)
        self.position_aware_module = PositionAwareLayer(dim_model, rnn_layers)
        self.attention_layer = DotProductAttentionLayer()

    def forward(self, feat, out_enc, valid_ratios=None):
        n, c_enc, h, w = out_enc.size()
        pos = torch.arange(0, self.max_seq_len, device=feat.device).repeat([n, 1]).long()
        key = self.position_aware_module(out_enc).view(n, c_enc, h * w)
        query = self.embedding(pos).permute(0, 2, 1).contiguous()
        value = feat.view(n, feat.size(1), h * w)
        mask = _width_mask(query, n, h, w, valid_ratios) if valid_ratios is not None else None
        return self.attention_layer(query, key, value, mask).permute(0, 2, 1).contiguous()


class RobustScannerFuser(nn.Module):
    def __init__(self, num_classes: int, start_idx: int, padding_idx: Optional[int],
                 hybrid_decoder: Dict[str, Any], position_decoder: Dict[str, Any],
                 in_channels=(512, 512), max_seq_len: int = 30, dim: int = -1) -> None:
        super().__init__()
        self.start_idx = start_idx
        self.max_seq_len = max_seq_len
        self.hybrid_decoder = SequenceAttentionDecoder(num_classes, padding_idx,
                                                       **hybrid_decoder)
        self.position_decoder = PositionAttentionDecoder(max_seq_len, **position_decoder)
        c = sum(in_channels)
        self.dim = dim
        self.linear_layer = nn.Linear(c, c)
        self.glu_layer = nn.GLU(dim=dim)
        self.prediction = nn.Linear(int(c / 2), num_classes)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, feat, out_enc, valid_ratios=None):
        n = feat.size(0)
        if valid_ratios is None:
            valid_ratios = [1.0] * n
        position_out = self.position_decoder(feat, out_enc, valid_ratios)
        seq = (feat.new_ones((n, self.max_seq_len)) * self.start_idx).long()
        outputs = []
        for step in range(self.max_seq_len):
            glimpse = self.hybrid_decoder.forward_test_step(feat, out_enc, seq, step,
                                                            valid_ratios)
            out = torch.cat((glimpse, position_out[:, step, :]), dim=-1)
            out = self.prediction(self.glu_layer(self.linear_layer(out)))
            outputs.append(out)
            if step < self.max_seq_len - 1:
                seq[:, step + 1] = torch.max(out, dim=1)[1]
        return self.softmax(torch.stack(outputs, 1))


class RobustScanner(FeatEncoderDecoderRecognizer):
    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__(cfg)
        self.backbone = ResNet31OCR(**cfg["backbone"])
        self.encoder = ChannelReductionEncoder(**cfg["encoder"])
        self.decoder = RobustScannerFuser(self.dictionary.num_classes,
                                          self.dictionary.start_idx,
                                          self.dictionary.padding_idx,
                                          cfg["hybrid_decoder"], cfg["position_decoder"],
                                          **cfg["fuser"])


def build_robustscanner(name: str = "robustscanner_resnet31_5e_st-sub_mj-sub_sa_real"
                        ) -> RobustScanner:
    return RobustScanner(DEFAULT_CFGS[name])
