"""Word boxes of a read line, from the recogniser's character positions (CTC alignment)."""
from __future__ import annotations

from typing import Any

import numpy as np

from handlers.ops.crop import Crop
from handlers.ops.word_boxes import span_box


def _words(chars: list[list[Any]]) -> list[list[list[Any]]]:
    """Maximal runs of non-space characters."""
    words, current = [], []
    for char in chars:
        if char[0].isspace():
            if current:
                words.append(current)
            current = []
        else:
            current.append(char)
    if current:
        words.append(current)
    return words


def line_words(crop: Crop, read: dict, flipped: bool = False) -> list[dict]:
    """Split one recognised line into words with boxes in image pixels.

    `read["chars"]` holds [char, x0, x1, prob] with x0/x1 as fractions of the crop width and
    `read["frame"]` one CTC frame in the same unit. A word spans its first char's start to its last
    char's end, widened by half a frame each side (peaks are narrower than glyphs). `flipped` means
    the crop was turned 180 degrees before reading, so fractions run backwards along the quad.
    """
    chars = read.get("chars") or []
    if not chars:
        return []
    half_frame = read.get("frame", 0.0) / 2
    out = []
    for word in _words(chars):
        t0, t1 = max(0.0, word[0][1] - half_frame), min(1.0, word[-1][2] + half_frame)
        if flipped:
            t0, t1 = 1.0 - t1, 1.0 - t0
        box = span_box(crop.quad, t0, t1, crop.rotated)
        out.append({"box": [round(float(v), 1) for v in box.reshape(-1)],
                    "text": "".join(c[0] for c in word),
                    "text_score": round(float(np.mean([c[3] for c in word])), 5)})
    return out
