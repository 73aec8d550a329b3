"""Page orientation (0/90/180/270) from detected text lines plus the 0/180 line classifier.

Conventions: `rotation` is how many degrees *clockwise* a page is turned to make it upright
(a page scanned lying on its left side, text running bottom-to-top, needs 90). Images are
(H, W[, C]) arrays, boxes flat polygons x1, y1, ..., xn, yn[, score] in pixels.

Method, in two pure steps around one classifier call (service.gateway.document_pipeline):
1. Geometry: printed lines are much longer than they are high, so the long axis of every
   clearly elongated detected box votes, weighted by its length, for "text runs horizontally"
   or "vertically". Vertical wins -> the page is at 90 or 270; it is turned 90 clockwise.
2. Direction: pieces of the longest lines of the (possibly turned) page go through the
   text-direction classifier; a width-weighted majority saying "upside down" adds 180.
Pages with no elongated line (blank, one short word) stay at 0. Vertical CJK columns would be
taken for a turned page: pass `orientation=none` for those.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from handlers.api.results import Orientation

# A box votes only when its long side is at least this many times its short side.
ELONGATED = 2.0
# Lines classified for the 0/180 vote: the longest ones carry the most evidence.
VOTE_LINES = 16
# The classifier squeezes a crop into 192 x 48: a long line of small print becomes an unreadable
# smear (measured: 3 of 4 upside-down 10 pt lines called upright). Pieces of the line about
# 4 heights wide fit that input unsqueezed; a few pieces per line vote.
PIECE_RATIO = 4
PIECES_PER_LINE = 4
_TURN = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def _axes(row: Sequence[float]) -> tuple[float, float] | None:
    """(long side, |cos| of its angle to x) of a box's minimum-area rectangle, or None if not elongated."""
    pts = np.asarray(row[: len(row) - len(row) % 2], np.float32).reshape(-1, 2)
    if len(pts) < 3:
        return None
    corners = cv2.boxPoints(cv2.minAreaRect(pts))
    edges = [corners[1] - corners[0], corners[2] - corners[1]]
    lengths = [float(np.hypot(*e)) for e in edges]
    long_i = int(lengths[1] > lengths[0])
    long_side, short_side = lengths[long_i], lengths[1 - long_i]
    if long_side < ELONGATED * max(short_side, 1.0):
        return None
    return long_side, abs(float(edges[long_i][0])) / long_side


def is_sideways(rows: Sequence[Sequence[float]]) -> bool:
    """True when the detected lines run mostly vertically (the page is at 90 or 270 degrees)."""
    horizontal = vertical = 0.0
    for row in rows:
        axes = _axes(row)
        if axes is None:
            continue
        length, cos = axes
        if cos >= np.cos(np.deg2rad(45)):
            horizontal += length
        else:
            vertical += length
    return vertical > horizontal


def turn(image: np.ndarray, rotation: int) -> np.ndarray:
    """The image turned `rotation` degrees clockwise (0, 90, 180 or 270), lossless."""
    if rotation % 360 == 0:
        return image
    return np.ascontiguousarray(cv2.rotate(image, _TURN[rotation % 360]))


def turn_rows(rows: Sequence[Sequence[float]], rotation: int, size: tuple[int, int]) -> list[list[float]]:
    """Boxes of an image of `size` (width, height) in the coordinates of `turn(image, rotation)`.

    The trailing score of a detection row (odd length) is kept.
    """
    width, height = size
    turned = []
    for row in rows:
        n = len(row) - len(row) % 2
        pts = np.asarray(row[:n], np.float64).reshape(-1, 2)
        x, y = pts[:, 0], pts[:, 1]
        if rotation % 360 == 90:
            pts = np.stack([height - y, x], axis=1)
        elif rotation % 360 == 180:
            pts = np.stack([width - x, height - y], axis=1)
        elif rotation % 360 == 270:
            pts = np.stack([y, width - x], axis=1)
        turned.append([float(v) for v in pts.reshape(-1)] + list(row[n:]))
    return turned


def vote_rows(rows: Sequence[Sequence[float]], limit: int = VOTE_LINES) -> list[int]:
    """Indices of the longest elongated boxes, the ones worth classifying."""
    lengths = [(axes[0], i) for i, row in enumerate(rows) if (axes := _axes(row)) is not None]
    return [i for _, i in sorted(lengths, reverse=True)[:limit]]


def pieces(crop: np.ndarray, ratio: int = PIECE_RATIO, limit: int = PIECES_PER_LINE) -> list[np.ndarray]:
    """Up to `limit` evenly spaced pieces, `ratio` heights wide, of a horizontal line crop."""
    height, width = crop.shape[:2]
    size = max(1, ratio * height)
    if width <= size:
        return [crop]
    count = min(limit, width // size)
    starts = np.linspace(0, width - size, count).round().astype(int)
    return [np.ascontiguousarray(crop[:, s:s + size]) for s in starts]


def upside_down(turns: Sequence[Orientation], weights: Sequence[float]) -> bool:
    """Length-weighted majority of the classifier's '180' probability over the voting lines."""
    total = sum(weights)
    if not total:
        return False
    flipped = sum(w * (t.score if t.label == "180" else 1.0 - t.score) for t, w in zip(turns, weights))
    return flipped > total / 2
