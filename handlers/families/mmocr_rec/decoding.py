"""MMOCR 1.x recognition postprocessors (greedy) on per-step probabilities."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Sequence

import torch

from .dictionary import Dictionary


@dataclass
class RecResult:
    text: str
    char_scores: List[float]

    @property
    def score(self) -> float:
        """Text score as MMOCR's inferencer reports it: mean of the char scores
        (0.0 for an empty text; MMOCR would give nan there)."""
        if not self.char_scores:
            return 0.0
        return float(sum(self.char_scores) / len(self.char_scores))


def ctc_decode(probs: torch.Tensor, dictionary: Dictionary, valid_ratio: float = 1.0,
               ignore_chars: Sequence[str] = ("padding",)) -> RecResult:
    """CTCPostProcessor: probs (T, C). Blank = padding index; a step is kept if its argmax
    differs from the previous step's argmax and is not ignored; score = max prob."""
    if probs.dim() != 2:
        raise ValueError(f"expected (T, C) probabilities, got {tuple(probs.shape)}")
    ignore = set(dictionary.ignore_indexes(ignore_chars))
    max_value, max_idx = torch.max(probs, -1)
    t_len = probs.size(0)
    decode_len = min(t_len, math.ceil(t_len * valid_ratio))
    index: List[int] = []
    score: List[float] = []
    prev = dictionary.padding_idx
    for t in range(decode_len):
        cur = int(max_idx[t])
        if cur != prev and cur not in ignore:
            index.append(cur)
            score.append(float(max_value[t]))
        prev = cur
    return RecResult(dictionary.idx2str(index), score)


def attention_decode(probs: torch.Tensor, dictionary: Dictionary,
                     ignore_chars: Sequence[str] = ("padding",)) -> RecResult:
    """AttentionPostprocessor: argmax per step, skip ignored indexes, stop at end_idx."""
    if probs.dim() != 2:
        raise ValueError(f"expected (T, C) probabilities, got {tuple(probs.shape)}")
    ignore = set(dictionary.ignore_indexes(ignore_chars))
    max_value, max_idx = torch.max(probs, -1)
    index: List[int] = []
    score: List[float] = []
    for v, i in zip(max_value.tolist(), max_idx.tolist()):
        if i in ignore:
            continue
        if i == dictionary.end_idx:
            break
        index.append(i)
        score.append(float(v))
    return RecResult(dictionary.idx2str(index), score)
