"""Word boxes of a read line in the response shape, from the recogniser's character positions."""
from __future__ import annotations

from functools import partial

from handlers.api.results import Recognition
from handlers.ops.crop import Crop
from handlers.ops.word_boxes import word_boxes
from service.gateway.glued_words import glued_cuts


def line_words(crop: Crop, read: Recognition, flipped: bool = False, gap: float = 0.0,
               glued_gap: float = 0.0) -> list[dict]:
    """Split one recognised line into words with boxes in image pixels.

    `read` is a recognition result with positions: `chars` ([char, x0, x1, prob], x as fractions
    of the crop width) and `frame` (one CTC frame in the same unit). `flipped` means the crop was
    turned 180 degrees before reading. `gap` > 0 also cuts words the recogniser ran together
    (handlers.ops.word_boxes.split_words). `glued_gap` > 0 cuts words run together where the line
    shows a gap of that many pitches and an English lexicon agrees (service.gateway.glued_words).
    """
    cut = partial(glued_cuts, gap=glued_gap) if glued_gap > 0 else None
    words = word_boxes(crop.quad, read.chars, read.frame, crop.rotated, flipped, gap=gap, cut=cut)
    return [{"box": [round(float(v), 1) for v in w.box.reshape(-1)], "text": w.text,
             "text_score": round(w.score, 5)} for w in words]
