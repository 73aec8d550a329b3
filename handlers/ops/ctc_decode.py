"""Greedy CTC decoding of recogniser outputs, with per-character frame spans.

Class layout follows PaddleOCR: class ``blank`` (0 by default) is the CTC blank
and the remaining classes map, in order, to the charset (so with blank=0 class
i > 0 is ``charset[i - 1]``). PaddleOCR dictionaries get a trailing ' ' class
when ``use_space_char`` is on (see `load_charset`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class DecodedChar:
    """One emitted character and the CTC frames [start, end) of its run."""

    char: str
    prob: float  # max probability at the first frame of the run (PaddleOCR/MMOCR)
    start: int  # first frame of the collapsed run
    end: int  # one past its last frame


@dataclass(frozen=True)
class DecodedText:
    """A decoded line; `score` is the mean char prob, 0.0 when `text` is empty."""

    text: str
    score: float
    chars: list[DecodedChar] = field(default_factory=list)


def load_charset(
    path_or_lines: str | os.PathLike | Iterable[str], use_space_char: bool = True
) -> list[str]:
    """Read a PaddleOCR dictionary (one symbol a line) into a charset list.

    Only line breaks are stripped, so a line holding ' ' is a space symbol;
    with ``use_space_char`` a ' ' is appended, as PaddleOCR always does, even if
    the file already has one (the model's class count assumes it).
    """
    if isinstance(path_or_lines, (str, os.PathLike)):
        with open(path_or_lines, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    else:
        lines = [line.rstrip("\r\n") for line in path_or_lines]
    charset = list(lines)
    if use_space_char:
        charset.append(" ")
    return charset


def ctc_greedy_decode(probs: np.ndarray, charset: list[str], blank: int = 0) -> list[DecodedText]:
    """Best-path decode (N, T, C) softmax outputs: argmax, collapse repeats, drop blanks."""
    probs = np.asarray(probs)
    if probs.ndim != 3:
        raise ValueError(f"probs must be (N, T, C), got shape {probs.shape}")
    num_classes = probs.shape[2]
    if num_classes != len(charset) + 1:
        raise ValueError(
            f"model has {num_classes} classes but charset has {len(charset)} symbols "
            "(+1 blank expected); wrong dictionary or use_space_char?"
        )
    if not 0 <= blank < num_classes:
        raise ValueError(f"blank index {blank} outside [0, {num_classes})")
    best = probs.argmax(axis=2)
    best_prob = np.take_along_axis(probs, best[..., None], axis=2)[..., 0]
    # Class -> symbol table with the blank removed from the numbering.
    symbols = list(charset[:blank]) + [""] + list(charset[blank:])
    return [_decode_row(row, row_prob, symbols, blank) for row, row_prob in zip(best, best_prob)]


def _decode_row(
    best: np.ndarray, best_prob: np.ndarray, symbols: list[str], blank: int
) -> DecodedText:
    """Collapse one row of argmax classes into characters with frame spans."""
    if len(best) == 0:
        return DecodedText(text="", score=0.0, chars=[])
    # A run starts at frame 0 and wherever the argmax class changes.
    starts = np.flatnonzero(np.concatenate(([True], best[1:] != best[:-1])))
    ends = np.append(starts[1:], len(best))
    keep = best[starts] != blank
    chars = [
        DecodedChar(char=symbols[int(best[s])], prob=float(best_prob[s]), start=int(s), end=int(e))
        for s, e in zip(starts[keep], ends[keep])
    ]
    text = "".join(c.char for c in chars)
    score = float(np.mean([c.prob for c in chars])) if chars else 0.0
    return DecodedText(text=text, score=score, chars=chars)
