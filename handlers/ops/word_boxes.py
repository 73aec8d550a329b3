"""Split a recognised text line into word boxes from its CTC character spans.

Geometry. The recogniser resizes a line crop to a fixed height keeping its
ratio, giving ``content_width`` model pixels, right-padded to the batch width
``padded_width``; the CTC head emits ``num_frames`` frames uniformly covering
the padded width. Frame f therefore covers the fraction
``[f * frac, (f + 1) * frac)`` of the text line, with
``frac = padded_width / num_frames / content_width`` (see `frame_fraction`).

A fraction t along the line is mapped onto the line's quad (TL, TR, BR, BL, as
returned by crop.crop_quad):
  * not rotated: reading runs along the top edge TL -> TR and the bottom edge
    BL -> BR;
  * rotated (the crop was turned 90 deg CCW because it was tall): the rotated
    crop's x axis is the original crop's y axis, so reading runs down the left
    edge TL -> BL and the right edge TR -> BR (the right edge is the text's top).
Word boxes use the same vertex convention as the quad: clockwise in image
coordinates, starting at the vertex nearest the quad's TL.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handlers.ops.ctc_decode import DecodedChar, DecodedText


@dataclass(frozen=True)
class Word:
    """A word of a recognised line: text, mean char prob and its (4, 2) box."""

    text: str
    score: float
    box: np.ndarray  # (4, 2) float32, same vertex order as the line quad


def frame_fraction(content_width: float, padded_width: float, num_frames: int) -> float:
    """Fraction of the text line covered by one CTC frame."""
    if content_width <= 0 or num_frames <= 0:
        raise ValueError("content_width and num_frames must be positive")
    return padded_width / num_frames / content_width


def split_words(decoded: DecodedText) -> list[list[DecodedChar]]:
    """Maximal runs of non-whitespace characters of a decoded line."""
    words: list[list[DecodedChar]] = []
    current: list[DecodedChar] = []
    for char in decoded.chars:
        if char.char.isspace() or not char.char:
            if current:
                words.append(current)
            current = []
        else:
            current.append(char)
    if current:
        words.append(current)
    return words


def word_boxes(
    quad: np.ndarray, decoded: DecodedText, frame_frac: float, rotated: bool = False
) -> list[Word]:
    """Boxes of the words of `decoded` inside the line `quad`, in reading order.

    ``frame_frac`` comes from `frame_fraction`; ``rotated`` is `Crop.rotated`.
    Each word spans from the start of its first character's frame run to the end
    of its last one, widened by half a frame each side (CTC peaks are narrower
    than glyphs) and clipped to the line.
    """
    corners = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    words = []
    for chars in split_words(decoded):
        t0 = float(np.clip((chars[0].start - 0.5) * frame_frac, 0.0, 1.0))
        t1 = float(np.clip((chars[-1].end + 0.5) * frame_frac, 0.0, 1.0))
        words.append(
            Word(
                text="".join(c.char for c in chars),
                score=float(np.mean([c.prob for c in chars])),
                box=span_box(corners, t0, t1, rotated),
            )
        )
    return words


def span_box(quad: np.ndarray, t0: float, t1: float, rotated: bool = False) -> np.ndarray:
    """Sub-quad of `quad` between fractions t0 <= t1 of the reading direction."""
    tl, tr, br, bl = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    if rotated:
        # Reading goes down the left (TL->BL) and right (TR->BR) edges.
        left0, left1 = _lerp(tl, bl, t0), _lerp(tl, bl, t1)
        right0, right1 = _lerp(tr, br, t0), _lerp(tr, br, t1)
        box = [left0, right0, right1, left1]
    else:
        box = [_lerp(tl, tr, t0), _lerp(tl, tr, t1), _lerp(bl, br, t1), _lerp(bl, br, t0)]
    return np.asarray(box, dtype=np.float32)


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Point at fraction t from a to b."""
    return a + t * (b - a)
