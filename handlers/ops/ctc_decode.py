"""Greedy CTC decoding of recogniser outputs, with per-character frame spans: the one decoder
of every CTC recogniser (PaddleOCR-style `ctc.py`, MMOCR's CTCPostProcessor in
`mmocr_rec/decoding.py`) and the one adapter from frame spans to positions along the crop.

`ctc_best_path` is the rule: argmax per frame, a run of equal argmaxes is one emission, runs
of ignored classes (the blank, MMOCR's padding/unknown) are dropped. `ctc_greedy_decode` is the
PaddleOCR class layout over it: class ``blank`` (0 by default) is the CTC blank and the
remaining classes map, in order, to the charset (so with blank=0 class i > 0 is
``charset[i - 1]``). PaddleOCR dictionaries get a trailing ' ' class when ``use_space_char``
is on (see `load_charset`).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Sequence
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
    #: frames of the whole output the spans count in (T, decoded or not)
    frames: int = field(default=0, compare=False)

    @property
    def char_scores(self) -> list[float]:
        """Per emitted character, its probability (MMOCR's name for them)."""
        return [c.prob for c in self.chars]


def char_positions(decoded: DecodedText, frame: float) -> list[tuple[str, float, float, float]]:
    """(char, x0, x1, prob) per character: frame spans times `frame`, the width of one frame as a
    fraction of the crop's width, capped at 1 (padding frames past the crop's content)."""
    return [(c.char, min(1.0, c.start * frame), min(1.0, c.end * frame), float(c.prob)) for c in decoded.chars]


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


def ctc_best_path(probs: np.ndarray, symbols: Sequence[str], ignore: Collection[int],
                  length: int | None = None) -> DecodedText:
    """Best-path decode one (T, C) output: class c emits `symbols[c]`; classes in `ignore` emit
    nothing but still end a run; only the first `length` frames (default all) are read."""
    probs = np.asarray(probs)
    if probs.ndim != 2:
        raise ValueError(f"expected (T, C) probabilities, got shape {probs.shape}")
    frames = probs.shape[0]
    length = frames if length is None else max(0, min(frames, length))
    if length == 0:
        return DecodedText(text="", score=0.0, chars=[], frames=frames)
    best = probs[:length].argmax(axis=1)  # first maximum on ties, as torch.max
    best_prob = np.take_along_axis(probs[:length], best[:, None], axis=1)[:, 0]
    # A run starts at frame 0 and wherever the argmax class changes.
    starts = np.flatnonzero(np.concatenate(([True], best[1:] != best[:-1])))
    ends = np.append(starts[1:], length)
    keep = ~np.isin(best[starts], list(ignore))
    chars = [DecodedChar(char=symbols[int(best[s])], prob=float(best_prob[s]), start=int(s), end=int(e))
             for s, e in zip(starts[keep], ends[keep])]
    score = float(np.mean([c.prob for c in chars])) if chars else 0.0
    return DecodedText(text="".join(c.char for c in chars), score=score, chars=chars, frames=frames)


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
    # Class -> symbol table with the blank removed from the numbering.
    symbols = list(charset[:blank]) + [""] + list(charset[blank:])
    return [ctc_best_path(row, symbols, (blank,)) for row in probs]
