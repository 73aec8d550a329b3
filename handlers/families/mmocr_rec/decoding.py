"""MMOCR 1.x recognition postprocessors (greedy) on per-step probabilities, in numpy.

Both take one crop's (T, C) probabilities as a numpy array or a CPU torch tensor, so the torch
runtime and the ONNX runtime decode with the same code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, List, Sequence, Tuple

import numpy as np

from .dictionary import Dictionary


@dataclass
class RecResult:
    text: str
    char_scores: List[float]
    #: CTC only: per emitted token, (token, start, end): the frames [start, end) of its run
    spans: List[Tuple[str, int, int]] = field(default_factory=list)
    #: CTC only: the number of frames the spans count in (T of the probabilities)
    steps: int = 0

    @property
    def score(self) -> float:
        """Text score as MMOCR's inferencer reports it: mean of the char scores
        (0.0 for an empty text; MMOCR would give nan there)."""
        if not self.char_scores:
            return 0.0
        return float(sum(self.char_scores) / len(self.char_scores))


def _steps(probs: Any) -> Tuple[np.ndarray, np.ndarray]:
    """(T, C) probabilities -> per-step max value and argmax (first maximum on ties, as torch.max)."""
    if hasattr(probs, "detach"):
        probs = probs.detach().cpu().numpy()
    probs = np.asarray(probs)
    if probs.ndim != 2:
        raise ValueError(f"expected (T, C) probabilities, got {tuple(probs.shape)}")
    best = probs.argmax(axis=-1)
    return np.take_along_axis(probs, best[:, None], axis=-1)[:, 0], best


def ctc_decode(probs: Any, dictionary: Dictionary, valid_ratio: float = 1.0,
               ignore_chars: Sequence[str] = ("padding",)) -> RecResult:
    """CTCPostProcessor: probs (T, C). Blank = padding index; a step is kept if its argmax
    differs from the previous step's argmax and is not ignored; score = max prob.
    The first ceil(T * valid_ratio) steps are read; each kept character's span runs to the
    end of its run of equal argmaxes."""
    max_value, max_idx = _steps(probs)
    decode_len = min(len(max_idx), math.ceil(len(max_idx) * valid_ratio))
    index: List[int] = []
    score: List[float] = []
    starts: List[int] = []
    ends: List[int] = []
    prev = dictionary.padding_idx
    ignore = set(dictionary.ignore_indexes(ignore_chars))
    for t in range(decode_len):
        cur = int(max_idx[t])
        if cur != prev:
            if len(ends) < len(starts):
                ends.append(t)
            if cur not in ignore:
                index.append(cur)
                score.append(float(max_value[t]))
                starts.append(t)
        prev = cur
    if len(ends) < len(starts):
        ends.append(decode_len)
    spans = [(dictionary.idx2str([i]), s, e) for i, s, e in zip(index, starts, ends)]
    return RecResult(dictionary.idx2str(index), score, spans, len(max_idx))


def attention_decode(probs: Any, dictionary: Dictionary,
                     ignore_chars: Sequence[str] = ("padding",)) -> RecResult:
    """AttentionPostprocessor: argmax per step, skip ignored indexes, stop at end_idx."""
    max_value, max_idx = _steps(probs)
    ignore = set(dictionary.ignore_indexes(ignore_chars))
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
