"""What KIE labels on an OCR page: whole read lines, segments of them, or single words.

SDMG-R learnt receipts from WildReceipt, whose boxes are shorter than the lines our detector
finds: a key and its value (`TOTAL` / `9.00`), a date and a time, are separate boxes there, one
line here when the printer leaves only a few spaces between them. `segment` splits each read
line where the gap between two of its words is wider than SEGMENT_GAP line heights (the words
come from the recogniser's character positions, service/gateway/words.py); `word` makes every
word a unit. Each unit is sent to the KIE model as one instance; its label goes back onto the
line's `segments` (the response's `Segment`), and a pair's `from` / `to` stay line indices, with
`from_segment` / `to_segment` naming the segment inside the line.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np

from service.gateway.kie_values import add_values

KieUnit = Literal["line", "segment", "word"]
#: What `/ocr?kie=` labels when the request names no `kie_unit` (measured: README, issue 13).
DEFAULT_KIE_UNIT = "line"

#: A gap between two words wider than this many line heights starts a new segment. An ordinary
#: space measures 0.15-0.5 line heights between our word boxes (they are widened around the CTC
#: spans); printers separate a key from its value, or columns, by a few spaces or a tab.
#: Chosen on the tuning receipts of bench/kie_real_receipts.py (see the README, issue 13).
SEGMENT_GAP = 0.6


@dataclass(frozen=True)
class Unit:
    """One KIE instance: the words [start, end) of line `line` (the line's own box and text when
    it is not split, or has no words)."""

    line: int
    start: int
    end: int
    box: list[float]
    text: str


def _corners(box: Sequence[float]) -> np.ndarray:
    return np.asarray(box, dtype=np.float64).reshape(-1, 2)


def _reading_frame(words: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along the line (first word's centre -> last word's) and across it (90 degrees clockwise)."""
    first, last = _corners(words[0]["box"]).mean(axis=0), _corners(words[-1]["box"]).mean(axis=0)
    along = last - first
    norm = float(np.hypot(*along))
    along = along / norm if norm > 0 else np.array([1.0, 0.0])
    return along, np.array([-along[1], along[0]])


def split_segments(words: Sequence[dict], gap: float) -> list[tuple[int, int]]:
    """Runs [start, end) of a line's words separated by gaps wider than `gap` line heights.

    Gaps are measured along the line (from the first word's centre to the last word's), between
    the extents of consecutive word boxes; the line height is the median extent of the words
    across it. Words are in reading order, as the response gives them.
    """
    if len(words) < 2:
        return [(0, len(words))] if words else []
    along, across = _reading_frame(words)
    spans = [(float((c @ along).min()), float((c @ along).max())) for c in map(_corners, (w["box"] for w in words))]
    height = float(np.median([np.ptp(_corners(w["box"]) @ across) for w in words]))
    runs, start = [], 0
    for i in range(1, len(words)):
        if spans[i][0] - spans[i - 1][1] > gap * max(height, 1e-6):
            runs.append((start, i))
            start = i
    runs.append((start, len(words)))
    return runs


def span_polygon(words: Sequence[dict]) -> list[float]:
    """The rectangle along the line around these word boxes: x1, y1, ..., x4, y4, clockwise from top-left."""
    if len(words) == 1:
        return [float(v) for v in words[0]["box"]]
    along, across = _reading_frame(words)
    points = np.concatenate([_corners(w["box"]) for w in words])
    a, b = points @ along, points @ across
    corners = [(a.min(), b.min()), (a.max(), b.min()), (a.max(), b.max()), (a.min(), b.max())]
    return [round(float(v), 1) for s, t in corners for v in s * along + t * across]


def kie_units(result: Sequence[dict], unit: str, gap: float | None = None) -> list[Unit]:
    """The KIE instances of a page's read lines, in order; a line without words is one unit.
    `gap`: the segment threshold in line heights (default SEGMENT_GAP, read at call time)."""
    gap = SEGMENT_GAP if gap is None else gap
    units = []
    for index, line in enumerate(result):
        words = line.get("words") or []
        if unit == "line" or not words:
            units.append(Unit(index, 0, len(words), list(line["box"]), line["text"]))
            continue
        runs = split_segments(words, gap) if unit == "segment" else [(i, i + 1) for i in range(len(words))]
        if len(runs) == 1:  # nothing to split: the line as it is (its detected box, its text)
            units.append(Unit(index, 0, len(words), list(line["box"]), line["text"]))
            continue
        for start, end in runs:
            run = words[start:end]
            units.append(Unit(index, start, end, span_polygon(run), " ".join(w["text"] for w in run)))
    return units


def attach_labels(result: list[dict], units: Sequence[Unit], labelled: dict[str, Any], unit: str) -> list[dict]:
    """Write the KIE labels (and `value`s, service.gateway.kie_values) onto the page's lines (unit
    `line`) or their `segments`; returns the pairs."""
    if unit == "line":
        for item, label in zip(result, labelled["instances"]):
            item.update(label)  # label, label_id, label_score
        add_values(result)
        return labelled["pairs"]
    where = []  # (line, index of the segment in that line) of every unit
    for part, label in zip(units, labelled["instances"]):
        segments = result[part.line].setdefault("segments", [])
        where.append((part.line, len(segments)))
        segments.append({"box": part.box, "text": part.text, "word_start": part.start, "word_end": part.end,
                         **label})
    add_values([segment for line in result for segment in line.get("segments", [])])
    return [{"from": where[p["from"]][0], "to": where[p["to"]][0], "score": p["score"],
             "from_segment": where[p["from"]][1], "to_segment": where[p["to"]][1]} for p in labelled["pairs"]]
