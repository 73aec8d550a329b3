"""Reading a crop both ways round where its direction is in doubt, keeping the surer reading.

A crop arrives here already cut and turned by handlers.ops.crop.crop_quad: a tall one (height at
least ROTATE_RATIO times its width) was turned 90 degrees counter-clockwise, which reads a word
running top-to-bottom but leaves one running bottom-to-top upside down; the 0/180 text-direction
classifier, when it runs, then turns the crops it is sure of. Geometry alone cannot tell the two
vertical directions apart, and the classifier was trained on horizontal lines, so the `both_ways`
option of /ocr reads the doubtful crops a second time turned 180 degrees and keeps, per crop, the
reading with the higher recogniser score (the mean of its character probabilities):

  none    today's behaviour: one reading per crop
  tall    tall crops (90 / 270)
  unsure  tall crops, plus every crop the classifier called with a score below UNSURE_BELOW
          (every crop when the classifier does not run: each then costs two readings)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from handlers.api.results import Orientation, Recognition
from handlers.ops.crop import Crop

BothWays = Literal["none", "tall", "unsure"]
DEFAULT_BOTH_WAYS: BothWays = "tall"  # /ocr's default and the in-process pipeline's (README, issue 13)
# The text-direction model turns a crop only at a score of 0.9 or more (zoo `threshold`): below
# that it is unsure whichever way it leans.
UNSURE_BELOW = 0.9


def doubtful(crops: Sequence[Crop], turns: Sequence[Orientation] | None, mode: BothWays) -> list[bool]:
    """Which crops to read a second time, turned 180 degrees; `turns` is None without a classifier."""
    if mode == "none":
        return [False] * len(crops)
    tall = [c.rotated for c in crops]
    if mode == "tall":
        return tall
    if turns is None:
        return [True] * len(crops)
    return [t or turn.score < UNSURE_BELOW for t, turn in zip(tall, turns)]


def turned(image: np.ndarray) -> np.ndarray:
    """The crop turned 180 degrees, contiguous for the recogniser."""
    return np.ascontiguousarray(image[::-1, ::-1])


def keep_surer(reads: list[Recognition], flipped: list[bool], second: dict[int, Recognition]) -> None:
    """Swap in the second reading (of the crop turned 180) wherever it scores higher, in place."""
    for index, read in second.items():
        if read.text.strip() and read.score > reads[index].score:
            reads[index] = read
            flipped[index] = not flipped[index]
