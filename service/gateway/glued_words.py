"""Where a recognised word is two words run together ("NEWYEAR", "FORSUCCESS", "TOASTBOX").

Scene-text recognisers often read a sign's words without the space between them, and a word box
around both then matches neither. A run of ASCII letters is cut where two conditions agree:

  * the page shows a gap: the centres of the two characters on either side of the cut lie more than
    `gap` times the word's median character pitch apart (CTC spans, handlers/predictors/ctc.py);
  * an English lexicon prefers the pieces: wordsegment's unigram / bigram segmentation (counts from
    a web corpus, shipped in the package) cuts the run there, every piece has two letters or more,
    and the run is not one letter away from a common word (a misread "Approoch" stays whole).

The lexicon is the well-kept `wordsegment` package rather than our own word list: its segmenter and
counts are what a word list would need anyway. The gateway loads it at start-up (`load_lexicon`:
about 0.5 s and 95 MB, once per process).
Chosen on the ICDAR 2015 `val` photos (bench/scene_text_levers.py, README "Accuracy on real data").
"""
from __future__ import annotations

import string
import threading
from typing import Sequence

import numpy as np

from handlers.ops.word_boxes import CharSpan, char_centre, median_pitch

#: Default `glued_gap` of /ocr: a cut needs a gap of more than this many median pitches.
GLUED_GAP = 1.3
#: Runs shorter than this are never cut.
MIN_RUN = 4
#: A run one edit away from a word at least this frequent in the lexicon is a misreading of it.
COMMON_WORD = 1e6

_LETTERS = frozenset(string.ascii_letters)
_load_lock = threading.Lock()
_segmenter = None


def glued_cuts(word: Sequence[CharSpan], gap: float = GLUED_GAP) -> list[int]:
    """Indices into `word` (one word's characters, in reading order) where a new word starts."""
    if gap <= 0 or len(word) < MIN_RUN:
        return []
    centres = [char_centre(c) for c in word]
    pitch = median_pitch(word)
    if pitch <= 0:
        return []
    wide = {k for k in range(1, len(word)) if centres[k] - centres[k - 1] > gap * pitch}
    cuts = []
    for start, end in _letter_runs(word):
        if end - start >= MIN_RUN and any(start < k < end for k in wide):
            cuts += [k for k in _lexicon_cuts("".join(c[0] for c in word[start:end]), start) if k in wide]
    return cuts


def _letter_runs(word: Sequence[CharSpan]) -> list[tuple[int, int]]:
    """[start, end) of the maximal runs of ASCII letters."""
    runs, start = [], None
    for index, char in enumerate(word):
        if char[0] in _LETTERS:
            start = index if start is None else start
        elif start is not None:
            runs.append((start, index))
            start = None
    if start is not None:
        runs.append((start, len(word)))
    return runs


def _lexicon_cuts(run: str, offset: int) -> list[int]:
    segmenter = _lexicon()
    lower = run.lower()
    pieces = segmenter.segment(lower)
    if len(pieces) < 2 or min(map(len, pieces)) < 2 or _near_common_word(lower, segmenter.unigrams):
        return []
    return [offset + int(k) for k in np.cumsum([len(p) for p in pieces[:-1]])]


def _near_common_word(word: str, counts: dict[str, float]) -> bool:
    """Whether a frequent word other than `word` is one deletion, swap, change or insertion away."""
    heads_tails = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    alphabet = string.ascii_lowercase
    near = {h + t[1:] for h, t in heads_tails if t}
    near |= {h + t[1] + t[0] + t[2:] for h, t in heads_tails if len(t) > 1}
    near |= {h + c + t[1:] for h, t in heads_tails if t for c in alphabet}
    near |= {h + c + t for h, t in heads_tails for c in alphabet}
    near.discard(word)
    return any(counts.get(w, 0) >= COMMON_WORD for w in near)


def load_lexicon() -> None:
    """Load the lexicon now rather than on the first word that needs it."""
    _lexicon()


def _lexicon():
    global _segmenter
    with _load_lock:
        if _segmenter is None:
            import wordsegment

            segmenter = wordsegment.Segmenter()
            segmenter.load()
            _segmenter = segmenter
    return _segmenter
