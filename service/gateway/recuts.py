"""A second reading of doubtful lines from a tighter crop, and the surer of the two kept.

The detector's line polygons carry DB's unclip padding, so a crop often holds slivers of the
lines above and below, or of a neighbouring sign, which the recogniser reads as stray or wrong
characters. A line read with a recogniser score under `recut_below` (an /ocr option; by default the
recogniser's zoo `recut_below`, like its `min_score` floor, since scores are on each model's own
scale; 0, never, for every shipped recogniser: 0.9, measured for ppocrv6-small-rec, tied on the
held-out photos) is cut again
from the photo with its quad shrunk across the line to RECUT_HEIGHT of its height (the same
length along it, so the characters keep their places as fractions of the crop width and the word
boxes need no change) and read again. The reading with the higher score supplies the text; the
line's score becomes the mean of the two readings' scores, so a line whose two crops disagree
on how sure they are is less likely to pass the recogniser's floor (a max would let a lucky second
reading lift a wrong line over it). Chosen on ICDAR 2015 training photos (bench/scene_text_levers.py,
bench/RESULTS-scene-levers.md "Second reading from a tighter crop").
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from handlers.api.results import Recognition
from handlers.ops.crop import Crop, crop_quad
from service.gateway.directions import turned

RECUT_HEIGHT = 0.9  # the second crop keeps this share of the line's height, centred


def tighter_quad(crop: Crop, height: float = RECUT_HEIGHT) -> np.ndarray:
    """The crop's quad (TL, TR, BR, BL in the photo) shrunk across its line to `height` of its
    height, about its centre line; its length along the line is unchanged."""
    return scaled_quad(crop, across=height)


def scaled_quad(crop: Crop, across: float, along: float = 1.0) -> np.ndarray:
    """The crop's quad scaled about its centre: `across` its line and `along` it (a tall crop is
    read along TL -> BL, so its across is TL -> TR)."""
    tl, tr, br, bl = np.asarray(crop.quad, np.float64)
    top, side = (tr - tl + br - bl) / 2, (bl - tl + br - tr) / 2
    u, v = (side, top) if crop.rotated else (top, side)  # u: along the reading direction
    du, dv = u * (along - 1) / 2, v * (across - 1) / 2
    if crop.rotated:
        quad = [tl - du - dv, tr - du + dv, br + du + dv, bl + du - dv]
    else:
        quad = [tl - du - dv, tr + du - dv, br + du + dv, bl - du + dv]
    return np.array(quad, np.float32)


def recut(image: np.ndarray, crop: Crop, flipped: bool, height: float = RECUT_HEIGHT) -> np.ndarray:
    """The tighter crop, turned as the line's first crop was (90 when tall, 180 when `flipped`).

    Shrinking across the line only makes a tall crop taller and a flat one flatter, so crop_quad
    turns it exactly as it turned the first crop."""
    tight = crop_quad(image, tighter_quad(crop, height))
    return turned(tight.image) if flipped else tight.image


def doubtful_reads(reads: Sequence[Recognition], below: float) -> list[int]:
    """Indices of the lines read with a score under `below` (0: none)."""
    return [i for i, read in enumerate(reads) if read.score < below]


def surer(first: Recognition, second: Recognition) -> Recognition:
    """The text (and character positions) of the reading with the higher score, never a blank
    second one, with the mean of both scores."""
    best = second if second.text.strip() and second.score > first.score else first
    return Recognition(best.text, (first.score + second.score) / 2, best.chars, best.frame)
