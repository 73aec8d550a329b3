"""Transformer pieces shared by MMOCR 1.x recognisers (NRTR / SATRN), MMOCR naming."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

from .valid_ratio import valid_columns


def sinusoid_table(n_position: int, d_hid: int) -> torch.Tensor:
    """(n_position, d_hid) table: even dims sin(pos / 10000^(2i/d)), odd dims cos."""
    denom = torch.Tensor([1.0 / np.power(10000, 2 * (j // 2) / d_hid) for j in range(d_hid)])
    pos = torch.arange(n_position).unsqueeze(-1).float()
    table = pos * denom.view(1, -1)
    table[:, 0::2] = torch.sin(table[:, 0::2])
    table[:, 1::2] = torch.cos(table[:, 1::2])
    return table


class ConvModule(nn.Module):
    """conv (no bias) -> BatchNorm -> ReLU, children named ``conv`` and ``bn``."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride, padding, groups=groups,
                              bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.activate = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.bn(self.conv(x)))


class ScaledDotProductAttention(nn.Module):
    def __init__(self, temperature: float, attn_dropout: float = 0.1) -> None:
        super().__init__()
        self.temperature = temperature
        self.dropout = nn.Dropout(attn_dropout)

    def forward(self, q, k, v, mask: Optional[torch.Tensor] = None):
        attn = torch.matmul(q / self.temperature, k.transpose(2, 3))
        if mask is not None:
            attn = attn.masked_fill(mask == 0, float("-inf"))
        attn = self.dropout(torch.softmax(attn, dim=-1))
        return torch.matmul(attn, v), attn


class MultiHeadAttention(nn.Module):
    def __init__(self, n_head: int = 8, d_model: int = 512, d_k: int = 64, d_v: int = 64,
                 dropout: float = 0.1, qkv_bias: bool = False) -> None:
        super().__init__()
        self.n_head, self.d_k, self.d_v = n_head, d_k, d_v
        self.dim_k = n_head * d_k
        self.dim_v = n_head * d_v
        self.linear_q = nn.Linear(self.dim_k, self.dim_k, bias=qkv_bias)
        self.linear_k = nn.Linear(self.dim_k, self.dim_k, bias=qkv_bias)
        self.linear_v = nn.Linear(self.dim_v, self.dim_v, bias=qkv_bias)
        self.attention = ScaledDotProductAttention(d_k ** 0.5, dropout)
        self.fc = nn.Linear(self.dim_v, d_model, bias=qkv_bias)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, q, k, v, mask: Optional[torch.Tensor] = None):
        b, len_q, _ = q.size()
        len_k = k.size(1)
        q = self.linear_q(q).view(b, len_q, self.n_head, self.d_k).transpose(1, 2)
        k = self.linear_k(k).view(b, len_k, self.n_head, self.d_k).transpose(1, 2)
        v = self.linear_v(v).view(b, len_k, self.n_head, self.d_v).transpose(1, 2)
        if mask is not None:
            if mask.dim() == 3:
                mask = mask.unsqueeze(1)
            elif mask.dim() == 2:
                mask = mask.unsqueeze(1).unsqueeze(1)
        out, _ = self.attention(q, k, v, mask=mask)
        out = out.transpose(1, 2).contiguous().view(b, len_q, self.dim_v)
        return self.proj_drop(self.fc(out))


class PositionwiseFeedForward(nn.Module):
    def __init__(self, d_in: int, d_hid: int, dropout: float = 0.1,
                 act: str = "gelu") -> None:
        super().__init__()
        self.w_1 = nn.Linear(d_in, d_hid)
        self.w_2 = nn.Linear(d_hid, d_in)
        self.act = nn.GELU() if act == "gelu" else nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.w_2(self.act(self.w_1(x))))


class PositionalEncoding(nn.Module):
    """Adds a fixed sinusoid table (buffer ``position_table``, (1, n_position, d_hid))."""

    def __init__(self, d_hid: int = 512, n_position: int = 200, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        self.register_buffer("position_table", sinusoid_table(n_position, d_hid).unsqueeze(0))

    def forward(self, x):
        return self.dropout(x + self.position_table[:, : x.size(1)].clone().detach())


class TFDecoderLayer(nn.Module):
    """Pre-norm transformer decoder layer (norm -> self-attn -> norm -> enc-attn -> norm -> ffn)."""

    def __init__(self, d_model: int = 512, d_inner: int = 256, n_head: int = 8, d_k: int = 64,
                 d_v: int = 64, dropout: float = 0.1, qkv_bias: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.self_attn = MultiHeadAttention(n_head, d_model, d_k, d_v, dropout, qkv_bias)
        self.enc_attn = MultiHeadAttention(n_head, d_model, d_k, d_v, dropout, qkv_bias)
        self.mlp = PositionwiseFeedForward(d_model, d_inner, dropout, act="gelu")

    def forward(self, dec_input, enc_output, self_attn_mask=None, dec_enc_attn_mask=None):
        x = self.norm1(dec_input)
        x = self.self_attn(x, x, x, self_attn_mask) + dec_input
        y = self.norm2(x)
        y = self.enc_attn(y, enc_output, enc_output, dec_enc_attn_mask) + x
        return self.mlp(self.norm3(y)) + y


class NRTRDecoder(nn.Module):
    """Autoregressive transformer decoder with greedy test-time decoding (MMOCR NRTRDecoder)."""

    def __init__(self, num_classes: int, padding_idx: int, start_idx: int, n_layers: int = 6,
                 d_embedding: int = 512, n_head: int = 8, d_k: int = 64, d_v: int = 64,
                 d_model: int = 512, d_inner: int = 256, n_position: int = 200,
                 dropout: float = 0.1, max_seq_len: int = 30) -> None:
        super().__init__()
        self.padding_idx = padding_idx
        self.start_idx = start_idx
        self.max_seq_len = max_seq_len
        self.trg_word_emb = nn.Embedding(num_classes, d_embedding, padding_idx=padding_idx)
        self.position_enc = PositionalEncoding(d_embedding, n_position=n_position)
        self.dropout = nn.Dropout(p=dropout)
        self.layer_stack = nn.ModuleList([
            TFDecoderLayer(d_model, d_inner, n_head, d_k, d_v, dropout=dropout)
            for _ in range(n_layers)])
        self.layer_norm = nn.LayerNorm(d_model, eps=1e-6)
        self.classifier = nn.Linear(d_model, num_classes)
        self.softmax = nn.Softmax(dim=-1)

    def _target_mask(self, trg_seq: torch.Tensor) -> torch.Tensor:
        pad_mask = (trg_seq != self.padding_idx).unsqueeze(-2)
        n = trg_seq.size(1)
        sub_mask = 1 - torch.triu(torch.ones((n, n), device=trg_seq.device), diagonal=1)
        return pad_mask & sub_mask.bool()

    @staticmethod
    def source_mask(src: torch.Tensor, valid_ratios) -> torch.Tensor:
        return valid_columns(valid_ratios, src, src.size(1)).to(src.dtype)

    def _attention(self, trg_seq, src, src_mask=None):
        x = self.position_enc(self.trg_word_emb(trg_seq))
        trg_mask = self._target_mask(trg_seq)
        out = self.dropout(x)
        for layer in self.layer_stack:
            out = layer(out, src, self_attn_mask=trg_mask, dec_enc_attn_mask=src_mask)
        return self.layer_norm(out)

    def forward(self, out_enc: torch.Tensor, valid_ratios=None) -> torch.Tensor:
        """Greedy decoding; returns softmax probabilities (N, max_seq_len, num_classes)."""
        n = out_enc.size(0)
        src_mask = self.source_mask(out_enc, valid_ratios)  # None: every column valid
        seq = torch.full((n, self.max_seq_len + 1), self.padding_idx, dtype=torch.long,
                         device=out_enc.device)
        seq[:, 0] = self.start_idx
        outputs = []
        for step in range(self.max_seq_len):
            dec = self._attention(seq, out_enc, src_mask=src_mask)
            logits = self.classifier(dec[:, step, :])
            outputs.append(logits)
            seq[:, step + 1] = torch.max(logits, dim=-1)[1]
        return self.softmax(torch.stack(outputs, dim=1))
