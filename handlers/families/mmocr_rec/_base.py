"""Shared wrappers for the recognisers: dictionary + greedy attention or CTC postprocessing."""
from __future__ import annotations

from typing import Any, Dict, List

import torch
from torch import nn

from .charsets import CHARSETS
from handlers.ops.ctc_decode import DecodedText

from .decoding import RecResult, attention_decode, ctc_decode
from .dictionary import Dictionary


def attn_dictionary(charset: str = "english_digits_symbols", **kw: Any) -> Dict[str, Any]:
    d = {"charset": charset, "with_start": True, "with_end": True, "same_start_end": True,
         "with_padding": True, "with_unknown": True}
    d.update(kw)
    return d


def _dictionary(cfg: Dict[str, Any]) -> Dictionary:
    d = dict(cfg["dictionary"])
    charset = CHARSETS[d.pop("charset")]
    return Dictionary(chars=charset, **d)


class AttnRecognizer(nn.Module):
    """Base: ``forward(x, valid_ratios)`` -> softmax probs (N, T, C); ``postprocess``.

    ``needs_padding``: the decoder also uses the padding index (SATRN's NRTRDecoder).
    """

    needs_padding = False

    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__()
        self.cfg = cfg
        self.dictionary = _dictionary(cfg)
        if self.needs_padding:
            if self.dictionary.start_idx is None or self.dictionary.end_idx is None \
                    or self.dictionary.padding_idx is None:
                raise ValueError("attention decoding needs start, end and padding tokens")
        elif self.dictionary.start_idx is None or self.dictionary.end_idx is None:
            raise ValueError("attention decoding needs start and end tokens")
        self.ignore_chars = list(cfg["postprocessor"]["ignore_chars"])

    def postprocess(self, probs: torch.Tensor) -> List[RecResult]:
        return [attention_decode(p, self.dictionary, self.ignore_chars) for p in probs]

    @torch.no_grad()
    def predict(self, x: torch.Tensor, valid_ratios: List[float] | None = None
                ) -> List[RecResult]:
        return self.postprocess(self.forward(x, valid_ratios))



class FeatEncoderDecoderRecognizer(AttnRecognizer):
    """SAR and RobustScanner: the decoder reads the backbone features and the encoder's
    holistic feature. Subclasses set ``backbone``, ``encoder`` and ``decoder``."""

    def forward(self, x: torch.Tensor, valid_ratios: List[float] | None = None):
        feat = self.backbone(x)
        return self.decoder(feat, self.encoder(feat, valid_ratios), valid_ratios)

class CTCRecognizerBase(nn.Module):
    """Base: ``forward(x)`` -> probs (N, T, C), blank = padding index; ``postprocess``."""

    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__()
        self.cfg = cfg
        self.dictionary = _dictionary(cfg)
        if self.dictionary.padding_idx is None:
            raise ValueError("CTC needs with_padding=True (the padding index is the blank)")
        self.ignore_chars = list(cfg["postprocessor"]["ignore_chars"])

    def postprocess(self, probs: torch.Tensor, valid_ratios: List[float] | None = None
                    ) -> List[DecodedText]:
        if valid_ratios is None:
            valid_ratios = [1.0] * probs.size(0)
        return [ctc_decode(p, self.dictionary, vr, self.ignore_chars)
                for p, vr in zip(probs, valid_ratios)]

    @torch.no_grad()
    def predict(self, x: torch.Tensor, valid_ratios: List[float] | None = None
                ) -> List[DecodedText]:
        return self.postprocess(self.forward(x), valid_ratios)
