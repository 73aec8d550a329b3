"""Shared wrapper for attention-decoding recognisers: dictionary + greedy postprocessing."""
from __future__ import annotations

from typing import Any, Dict, List

import torch
from torch import nn

from .charsets import CHARSETS
from .decoding import RecResult, attention_decode
from .dictionary import Dictionary


def attn_dictionary(charset: str = "english_digits_symbols", **kw: Any) -> Dict[str, Any]:
    d = {"charset": charset, "with_start": True, "with_end": True, "same_start_end": True,
         "with_padding": True, "with_unknown": True}
    d.update(kw)
    return d


class AttnRecognizer(nn.Module):
    """Base: ``forward(x, valid_ratios)`` -> softmax probs (N, T, C); ``postprocess``."""

    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__()
        self.cfg = cfg
        d = dict(cfg["dictionary"])
        charset = CHARSETS[d.pop("charset")]
        self.dictionary = Dictionary(chars=charset, **d)
        if self.dictionary.start_idx is None or self.dictionary.end_idx is None:
            raise ValueError("attention decoding needs start and end tokens")
        self.ignore_chars = list(cfg["postprocessor"]["ignore_chars"])

    def postprocess(self, probs: torch.Tensor) -> List[RecResult]:
        return [attention_decode(p, self.dictionary, self.ignore_chars) for p in probs]

    @torch.no_grad()
    def predict(self, x: torch.Tensor, valid_ratios: List[float] | None = None
                ) -> List[RecResult]:
        return self.postprocess(self.forward(x, valid_ratios))
