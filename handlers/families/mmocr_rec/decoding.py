"""MMOCR 1.x recognition postprocessors (greedy) on per-step probabilities, in numpy.

CTC decoding is the project's one CTC decoder (handlers/ops/ctc_decode.py) with MMOCR's class
layout; attention decoding is here. Both take one crop's (T, C) probabilities as a numpy array
or a CPU torch tensor, so the torch runtime and the ONNX runtime decode with the same code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Sequence, Tuple

import numpy as np

from handlers.ops.ctc_decode import DecodedText, ctc_best_path

from .dictionary import Dictionary


@dataclass
class RecResult:
    """An attention or segmentation decoder's text (CTC decoders give DecodedText, with spans)."""

    text: str
    char_scores: List[float]

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
               ignore_chars: Sequence[str] = ("padding",)) -> DecodedText:
    """CTCPostProcessor: probs (T, C), blank = padding index, through the one CTC decoder
    (handlers/ops/ctc_decode.py): a run of equal argmaxes emits its token unless ignored, scored
    by its first frame; the first ceil(T * valid_ratio) frames are read."""
    if hasattr(probs, "detach"):
        probs = probs.detach().cpu().numpy()
    probs = np.asarray(probs)
    if probs.ndim != 2:
        raise ValueError(f"expected (T, C) probabilities, got {tuple(probs.shape)}")
    length = math.ceil(len(probs) * valid_ratio)
    return ctc_best_path(probs, dictionary.dict, dictionary.ignore_indexes(ignore_chars), length)


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
