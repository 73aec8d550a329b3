"""ABINet's language model (Fang et al. 2021, "Read Like Humans": the bidirectional cloze
network, BCN), MMOCR 1.x ``ABILanguageDecoder`` names: character probabilities -> ``proj`` ->
+ sinusoid (``token_encoder``) as keys/values; zero queries + sinusoid (``pos_encoder``);
post-norm cross-attention layers whose attention mask hides each position from itself and
whose key padding mask hides everything after the first end token."""
from __future__ import annotations

from typing import Dict

import torch
from torch import nn

from .master import FFN, MHA
from .transformer import PositionalEncoding


class MaskedMHA(MHA):
    """mmcv ``MultiheadAttention`` (sequence-first) with an attention and a key padding mask."""

    def forward(self, query, key, value, attn_mask=None, key_padding_mask=None):
        out = self.attn(query=query, key=key, value=value, attn_mask=attn_mask,
                        key_padding_mask=key_padding_mask)[0]
        return query + self.dropout_layer(self.proj_drop(out))


class BCNLayer(nn.Module):
    """mmcv ``BaseTransformerLayer`` with operation order (cross_attn, norm, ffn, norm)."""

    def __init__(self, d_model: int, n_head: int, d_inner: int, dropout: float) -> None:
        super().__init__()
        self.attentions = nn.ModuleList([MaskedMHA(d_model, n_head, dropout, batch_first=False)])
        self.ffns = nn.ModuleList([FFN(d_model, d_inner, dropout)])
        self.norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in range(2)])

    def forward(self, query, kv, attn_mask, key_padding_mask):
        x = self.norms[0](self.attentions[0](query, kv, kv, attn_mask, key_padding_mask))
        return self.norms[1](self.ffns[0](x))


def text_lengths(logits: torch.Tensor, end_idx: int) -> torch.Tensor:
    """Greedy length of each row: 1 + position of the first end token, else T."""
    is_end = logits.argmax(dim=-1) == end_idx
    # integer cumsum/argmax (same first-maximum index): ONNX has no CumSum or ArgMax on bool
    first = ((is_end.long().cumsum(-1) == 1) & is_end).long().argmax(-1) + 1
    return torch.where(is_end.any(-1), first, first.new_tensor(logits.size(1)))


class ABILanguageDecoder(nn.Module):
    """logits (N, T, C) of the previous round -> {"feature": (N, T, E), "logits": (N, T, C)}."""

    def __init__(self, num_classes: int, end_idx: int, d_model: int = 512, n_head: int = 8,
                 d_inner: int = 2048, n_layers: int = 4, dropout: float = 0.1,
                 detach_tokens: bool = True, use_self_attn: bool = False,
                 max_seq_len: int = 40) -> None:
        super().__init__()
        if use_self_attn:
            raise ValueError("ABILanguageDecoder supports use_self_attn=False only "
                             "(the configs' cross-attention-only layers)")
        self.end_idx = end_idx
        self.max_seq_len = max_seq_len
        self.detach_tokens = detach_tokens
        self.proj = nn.Linear(num_classes, d_model, False)
        self.token_encoder = PositionalEncoding(d_model, n_position=max_seq_len, dropout=0.1)
        self.pos_encoder = PositionalEncoding(d_model, n_position=max_seq_len)
        self.decoder_layers = nn.ModuleList(
            [BCNLayer(d_model, n_head, d_inner, dropout) for _ in range(n_layers)])
        self.cls = nn.Linear(d_model, num_classes)

    def forward(self, logits: torch.Tensor) -> Dict[str, torch.Tensor]:
        t = self.max_seq_len
        lengths = text_lengths(logits, self.end_idx).clamp(2, t)
        tokens = torch.softmax(logits, dim=-1)
        if self.detach_tokens:
            tokens = tokens.detach()
        kv = self.token_encoder(self.proj(tokens)).permute(1, 0, 2)  # (T, N, E)
        query = self.pos_encoder(kv.new_zeros(kv.size(1), t, kv.size(2))).permute(1, 0, 2)
        padded = torch.arange(t, device=logits.device).unsqueeze(0) >= lengths.unsqueeze(-1)
        # float like the location mask (torch turns MMOCR's bool mask into exactly this)
        padding = torch.zeros(padded.shape, device=logits.device).masked_fill(padded, float("-inf"))
        eye = torch.eye(t, device=logits.device)
        location = eye.masked_fill(eye == 1, float("-inf"))  # no position sees itself
        out = query
        for layer in self.decoder_layers:
            out = layer(out, kv, location, padding)
        out = out.permute(1, 0, 2)
        return {"feature": out, "logits": self.cls(out)}
