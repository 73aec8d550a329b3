"""Split a recognised text line into word boxes from its CTC character spans.

Geometry. The recogniser reports, for each character, the span [x0, x1) along the crop that the
CTC frames emitting it cover, as fractions of the crop's content width, plus the width of one
frame in the same unit (handlers/predictors/ctc.py computes both from the frame count and the
padded input width).

A fraction t along the line is mapped onto the line's quad (TL, TR, BR, BL, as
returned by crop.crop_quad):
  * not rotated: reading runs along the top edge TL -> TR and the bottom edge
    BL -> BR;
  * rotated (the crop was turned 90 deg CCW because it was tall): the rotated
    crop's x axis is the original crop's y axis, so reading runs down the left
    edge TL -> BL and the right edge TR -> BR (the right edge is the text's top);
  * flipped (the crop was turned 180 deg before reading, after the direction
    classifier): fractions run backwards, t -> 1 - t.
Word boxes use the same vertex convention as the quad: clockwise in image
coordinates, starting at the vertex nearest the quad's TL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

#: Widening of a word's CTC span, in frames. Measured on the ICDAR 2015 toy photos with PP-OCRv6:
#: with half a frame each side, word starts fell ~0.15 line heights (~0.9 frame) right of the
#: ground truth while ends matched, so the start gets one more frame.
LEAD_FRAMES = 1.5
TRAIL_FRAMES = 0.5
#: Share of the line's height a word box keeps, centred across the line. The detector's line
#: polygons carry the padding that recognition crops want (DB's unclip): measured against ground
#: truth, matched word boxes of ICDAR 2015 photos were a median 1.27x as tall as the word (dev
#: photos) and SROIE receipt lines 1.16x as tall as the line (tune half), while widths were right
#: (0.94x, 1.02x); 0.85 splits the two (bench/RESULTS-scene-levers.md, "Word box height").
WORD_HEIGHT = 0.85

#: One recognised character: (char, x0, x1, prob), x as a fraction of the crop width.
CharSpan = Sequence[Any]
#: Where else to cut one word: indices into its characters where a new word starts.
Cutter = Callable[[Sequence[CharSpan]], Sequence[int]]


@dataclass(frozen=True)
class Word:
    """A word of a recognised line: text, mean char prob and its (4, 2) box."""

    text: str
    score: float
    box: np.ndarray  # (4, 2) float32, same vertex order as the line quad


def split_words(chars: Sequence[CharSpan], gap: float = 0.0, cut: Cutter | None = None) -> list[list[CharSpan]]:
    """Maximal runs of non-whitespace characters of a decoded line; with `gap` > 0, a run is also
    cut where two neighbours' centres lie more than `gap` times the line's median pitch apart
    (words the recogniser ran together without a space); `cut` then names further cuts in each word."""
    words: list[list[CharSpan]] = []
    current: list[CharSpan] = []
    for char in chars:
        if char[0].isspace() or not char[0]:
            if current:
                words.append(current)
            current = []
        else:
            current.append(char)
    if current:
        words.append(current)
    if gap:
        words = [piece for word in words for piece in _cut_at_gaps(word, median_pitch(chars) * gap)]
    return [piece for word in words for piece in _cut_at(word, cut(word))] if cut else words


def char_centre(char: CharSpan) -> float:
    """Centre of a character's span, as a fraction of the crop width."""
    return (char[1] + char[2]) / 2


def median_pitch(chars: Sequence[CharSpan]) -> float:
    """Median distance between the centres of neighbouring characters (spaces included); inf under 3."""
    centres = [char_centre(c) for c in chars if c[0]]
    return float(np.median(np.diff(centres))) if len(centres) >= 3 else float("inf")


def _cut_at_gaps(word: list[CharSpan], limit: float) -> list[list[CharSpan]]:
    pieces = [[word[0]]]
    for prev, char in zip(word, word[1:]):
        if char_centre(char) - char_centre(prev) > limit:
            pieces.append([])
        pieces[-1].append(char)
    return pieces


def _cut_at(word: list[CharSpan], cuts: Sequence[int]) -> list[list[CharSpan]]:
    bounds = [0, *sorted(k for k in set(cuts) if 0 < k < len(word)), len(word)]
    return [word[a:b] for a, b in zip(bounds, bounds[1:])]


def word_boxes(quad: np.ndarray, chars: Sequence[CharSpan], frame: float, rotated: bool = False,
               flipped: bool = False, *, gap: float = 0.0, cut: Cutter | None = None) -> list[Word]:
    """Boxes of the words of a line inside its `quad`, in reading order.

    Each word spans from the start of its first character's frames to the end of its last
    one's, widened by LEAD_FRAMES before and TRAIL_FRAMES after (CTC emits a character late,
    from the right part of its glyph, and peaks are narrower than glyphs), clipped to the line.
    `gap`, `cut`: see split_words.
    """
    corners = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    words = []
    for word in split_words(chars, gap, cut):
        t0 = float(np.clip(word[0][1] - LEAD_FRAMES * frame, 0.0, 1.0))
        t1 = float(np.clip(word[-1][2] + TRAIL_FRAMES * frame, 0.0, 1.0))
        if flipped:
            t0, t1 = 1.0 - t1, 1.0 - t0
        words.append(Word(text="".join(c[0] for c in word), score=float(np.mean([c[3] for c in word])),
                          box=span_box(corners, t0, t1, rotated, height=WORD_HEIGHT)))
    return words


def span_box(quad: np.ndarray, t0: float, t1: float, rotated: bool = False, height: float = 1.0) -> np.ndarray:
    """Sub-quad of `quad` between fractions t0 <= t1 of the reading direction, keeping the middle
    `height` of the line across it."""
    tl, tr, br, bl = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    if rotated:
        # Reading goes down the left (TL->BL) and right (TR->BR) edges; across the line is left -> right.
        left0, left1 = _lerp(tl, bl, t0), _lerp(tl, bl, t1)
        right0, right1 = _lerp(tr, br, t0), _lerp(tr, br, t1)
        left0, right0 = _narrow(left0, right0, height)
        left1, right1 = _narrow(left1, right1, height)
        box = [left0, right0, right1, left1]
    else:
        top0, top1, bottom0, bottom1 = _lerp(tl, tr, t0), _lerp(tl, tr, t1), _lerp(bl, br, t0), _lerp(bl, br, t1)
        top0, bottom0 = _narrow(top0, bottom0, height)
        top1, bottom1 = _narrow(top1, bottom1, height)
        box = [top0, top1, bottom1, bottom0]
    return np.asarray(box, dtype=np.float32)


def _narrow(a: np.ndarray, b: np.ndarray, keep: float) -> tuple[np.ndarray, np.ndarray]:
    """The middle `keep` of the segment a -> b."""
    margin = (1.0 - keep) / 2
    return _lerp(a, b, margin), _lerp(a, b, 1.0 - margin)


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Point at fraction t from a to b."""
    return a + t * (b - a)
