"""Page layout and reading order from line boxes alone (pure: no image, no model).

Conventions: a line is a dict with a polygon `box` (x1, y1, ..., xn, yn in page pixels) and
optionally `text`, `text_score`, `words` (the shape of `/ocr`'s `result` items). Distances are
measured in median line heights of the page, so one rule holds from thumbnails to 600 dpi scans.

Method, a whitespace-cut in the spirit of recursive XY-cut but built to avoid its two classic
failures (cutting two columns into rows where their line gaps happen to coincide, and reading a
receipt's prices after all its item names):
1. The lines are cut into horizontal slabs at every vertical gap. Consecutive slabs merge into
   one region while some vertical channel of free space (a gutter) runs through all of them
   (gaps up to `column_join` line heights, measured to the text above in the same column;
   `change_join` when the slab opens a new gutter), or while none of them has one (plain text,
   gaps up to `slab_join`). A full-width title, table row or footer ends a multi-column region,
   and so does a change of type size by half; multi-column regions cut apart where their
   columns' gaps line up are joined again.
2. A region with gutters is split into columns when every part is wide (`column_min` line
   heights, and at least `column_ratio` of the widest part) and filled (its median line at least
   `column_fill` of its width): each column is laid out again (columns can nest) and read one
   after another. Otherwise it is a table (a receipt's items and prices, a street sign's
   panels): read row by row, left to right. Text whose rows mostly hold several boxes side by
   side is table-like too, and neighbouring tables join into one block.
3. Inside a block, a vertical gap over `par_gap` line heights, a jump in line height (half as
   high again) or, in prose, a row ending before 60% of the width starts a new paragraph; a
   paragraph of at most two lines set `heading_ratio` larger than the page's body text is a
   heading.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

INF = float("inf")


@dataclass(frozen=True)
class LayoutConfig:
    """Thresholds, in median line heights unless said otherwise."""

    gutter_min: float = 0.8
    slab_join: float = 2.0
    column_join: float = 3.0
    change_join: float = 1.0
    column_min: float = 8.0
    column_ratio: float = 0.5
    column_fill: float = 0.5
    par_gap: float = 0.8
    heading_ratio: float = 1.25


@dataclass
class _Block:
    kind: str                    # "text" or "table"
    rows: list[list[int]]        # line indices, row by row, each row left to right


def _aabbs(lines: list[dict]) -> np.ndarray:
    boxes = np.zeros((len(lines), 4), np.float64)
    for i, line in enumerate(lines):
        pts = np.asarray(line["box"], np.float64).reshape(-1, 2)
        boxes[i] = (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())
    return boxes


def _free(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The complement of a union of intervals on the real line, margins included."""
    free, reach = [], -INF
    for lo, hi in sorted(spans):
        if lo > reach:
            free.append((reach, lo))
        reach = max(reach, hi)
    free.append((reach, INF))
    return free


def _intersect(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if hi > lo:
                out.append((lo, hi))
    return out


class _Layout:
    """One page's boxes and thresholds; `blocks(indices)` lays out any subset of its lines."""

    def __init__(self, boxes: np.ndarray, cfg: LayoutConfig):
        self.boxes, self.cfg = boxes, cfg
        heights = boxes[:, 3] - boxes[:, 1]
        self.unit = float(max(np.median(heights), 1.0)) if len(boxes) else 1.0

    def _gutters(self, idx: list[int], free: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """Free channels strictly inside the lines' horizontal extent, wide enough to be gutters."""
        x0, x1 = self.boxes[idx, 0].min(), self.boxes[idx, 2].max()
        inner = _intersect(free, [(x0, x1)])
        return [g for g in inner if g[1] - g[0] >= self.cfg.gutter_min * self.unit]

    def _slabs(self, idx: list[int]) -> list[list[int]]:
        """Cut at every horizontal band of free space, top to bottom."""
        order = sorted(idx, key=lambda i: self.boxes[i, 1])
        slabs, bottom = [], -INF
        for i in order:
            if not slabs or self.boxes[i, 1] >= bottom:
                slabs.append([])
            slabs[-1].append(i)
            bottom = max(bottom, self.boxes[i, 3])
        return slabs

    def _regions(self, idx: list[int]) -> list[tuple[list[int], list[tuple[float, float]]]]:
        """Merge consecutive slabs that share a gutter (or where none has one)."""
        regions: list[tuple[list[int], list[tuple[float, float]]]] = []
        for slab in self._slabs(idx):
            free = _free([(self.boxes[i, 0], self.boxes[i, 2]) for i in slab])
            if regions and self._joins(*regions[-1], slab, free):
                members, rfree = regions[-1]
                regions[-1] = (members + slab, _intersect(rfree, free))
            else:
                regions.append((slab, free))
        return self._rejoin_columns([(members, self._gutters(members, free)) for members, free in regions])

    def _joins(self, members: list[int], rfree: list, slab: list[int], free: list) -> bool:
        """Whether the slab goes on the region above it."""
        mine, its = self._gutters(members, rfree), self._gutters(slab, free)
        union = self._gutters(members + slab, _intersect(rfree, free))
        # every gutter of the region and of the slab goes on through the union
        keeps = bool(union) and all(_intersect([g], union) for g in mine + its)
        # the same columns go on; a slab that opens a gutter, or whose lines sit only at the far
        # sides of several, may join only close below
        same = len(union) == len(mine) and all(len(_intersect([g], union)) == 1 for g in its)
        if keeps:
            limit = self.cfg.column_join if same else self.cfg.change_join
        else:
            limit = -INF if mine or its else self.cfg.slab_join
        if self._gap_above(slab, members) > limit * self.unit:
            return False
        # inside established columns a short last line may be all x-height: no size test there
        return (keeps and bool(mine)) or self._similar_size(slab, members)

    def _rejoin_columns(self, regions: list[tuple[list[int], list]]) -> list[tuple[list[int], list]]:
        """Join neighbouring multi-column regions cut apart where their columns' gaps line up."""
        out: list[tuple[list[int], list]] = []
        for members, gutters in regions:
            if out and gutters and out[-1][1]:
                both = [g for g in _intersect(out[-1][1], gutters) if g[1] - g[0] >= self.cfg.gutter_min * self.unit]
                if len(both) == len(gutters) == len(out[-1][1]) and self._columns(members, gutters) \
                        and self._columns(out[-1][0], out[-1][1]):
                    out[-1] = (out[-1][0] + members, both)
                    continue
            out.append((members, gutters))
        return out

    def _similar_size(self, slab: list[int], members: list[int]) -> bool:
        """A slab set in type half as large again (a title) does not join the text next to it."""
        h = self.boxes[:, 3] - self.boxes[:, 1]
        a, b = float(h[slab].max()), float(np.median(h[members]))  # max: a row may be all x-height
        return max(a, b) < 1.5 * min(a, b)

    def _gap_above(self, slab: list[int], members: list[int]) -> float:
        """Vertical gap from the slab up to the lines above it that share its horizontal extent
        (a column's own text, not the bottom of a longer neighbouring column)."""
        b = self.boxes
        x0, x1 = b[slab, 0].min(), b[slab, 2].max()
        above = [i for i in members if b[i, 0] < x1 and b[i, 2] > x0] or members
        return float(b[slab, 1].min() - b[above, 3].max())

    def _columns(self, idx: list[int], gutters: list[tuple[float, float]]) -> list[list[int]] | None:
        """Split at the gutters when every part is a real text column, else None."""
        cuts = [(lo + hi) / 2 for lo, hi in gutters]
        parts: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
        for i in idx:
            centre = (self.boxes[i, 0] + self.boxes[i, 2]) / 2
            parts[int(np.searchsorted(cuts, centre))].append(i)
        if any(not p for p in parts):
            return None
        b = self.boxes
        widths = [b[p, 2].max() - b[p, 0].min() for p in parts]
        if min(widths) < max(self.cfg.column_min * self.unit, self.cfg.column_ratio * max(widths)):
            return None
        # Text fills its column; a table's cells (an item name, a price) leave most of it empty.
        if any(np.median(b[p, 2] - b[p, 0]) < self.cfg.column_fill * w for p, w in zip(parts, widths)):
            return None
        return parts

    def rows(self, idx: list[int]) -> list[list[int]]:
        """Group into text rows (a line joins a row when it overlaps the row's first line by half
        the smaller height), top to bottom, each left to right."""
        b = self.boxes
        order = sorted(idx, key=lambda i: (b[i, 1] + b[i, 3]) / 2)
        rows: list[list[int]] = []
        for i in order:
            for row in rows[::-1][:3]:
                seed = row[0]
                overlap = min(b[i, 3], b[seed, 3]) - max(b[i, 1], b[seed, 1])
                if overlap >= 0.5 * min(b[i, 3] - b[i, 1], b[seed, 3] - b[seed, 1]):
                    row.append(i)
                    break
            else:
                rows.append([i])
        return [sorted(row, key=lambda i: b[i, 0]) for row in rows]

    def blocks(self, idx: list[int]) -> list[_Block]:
        """Blocks of these lines in reading order."""
        out: list[_Block] = []
        for members, gutters in self._regions(idx):
            parts = self._columns(members, gutters) if gutters else None
            if parts:  # each part is a strict subset, so the recursion ends
                for part in parts:
                    out.extend(self.blocks(part))
            else:
                self._add_rows(out, self.rows(members), bool(gutters))
        return out

    def _add_rows(self, out: list[_Block], rows: list[list[int]], gutters: bool) -> None:
        """A table, or text whose rows mostly hold several boxes side by side (a sign's panels),
        joins a table just above it: one sign, one receipt body, one block."""
        table = gutters or 2 * sum(len(row) > 1 for row in rows) >= len(rows)
        if table and out and out[-1].kind == "table":
            above = [i for row in out[-1].rows for i in row]
            below = [i for row in rows for i in row]
            if self.boxes[below, 1].min() - self.boxes[above, 3].max() <= self.cfg.slab_join * self.unit:
                out[-1].rows.extend(rows)
                return
        out.append(_Block("table" if table else "text", rows))


    def paragraphs(self, rows: list[list[int]]) -> list[list[list[int]]]:
        """Split a block's rows at wide vertical gaps and at jumps in line height."""
        b, pars = self.boxes, []
        prev = None
        ends = self._prose_ends(rows)
        for row in rows:
            top, bottom = b[row, 1].min(), b[row, 3].max()
            height = float(np.median(b[row, 3] - b[row, 1]))
            if prev is None or prev[2] or top - prev[0] > self.cfg.par_gap * self.unit \
                    or max(height, prev[1]) >= 1.5 * min(height, prev[1]):
                pars.append([])
            pars[-1].append(row)
            prev = (bottom, height, bool(b[row, 2].max() < ends))
        return pars

    def _prose_ends(self, rows: list[list[int]]) -> float:
        """In prose (at least three rows, most of them full width) a row ending before 60% of the
        width ends its paragraph even without a gap; returns that x (or -inf: not prose)."""
        b = self.boxes
        if len(rows) < 3:
            return -INF
        x0 = min(b[row, 0].min() for row in rows)
        x1 = max(b[row, 2].max() for row in rows)
        widths = [b[row, 2].max() - b[row, 0].min() for row in rows]
        if np.median(widths) < 0.7 * (x1 - x0):
            return -INF
        return x0 + 0.6 * (x1 - x0)

    def is_heading(self, rows: list[list[int]]) -> bool:
        heights = [self.boxes[i, 3] - self.boxes[i, 1] for row in rows for i in row]
        return len(rows) <= 2 and float(np.median(heights)) >= self.cfg.heading_ratio * self.unit


def row_sort(rows: list[list[float]], line_tol: float = 10.0) -> list[list[float]]:
    """The order the layout replaced, kept only as the baseline that tests/service/gateway/test_layout.py
    and bench/reading_order.py score it against (the pipeline does not use it): top to bottom, then
    left to right for boxes whose tops are within `line_tol` px. Rows are a polygon plus one
    trailing number (a score or an index)."""
    rows = sorted(rows, key=lambda r: (min(r[1:-1:2]), min(r[0:-1:2])))
    for i in range(1, len(rows)):
        j = i
        while j > 0 and abs(min(rows[j][1:-1:2]) - min(rows[j - 1][1:-1:2])) < line_tol \
                and min(rows[j][0:-1:2]) < min(rows[j - 1][0:-1:2]):
            rows[j], rows[j - 1] = rows[j - 1], rows[j]
            j -= 1
    return rows


def reading_order(boxes: list[list[float]], cfg: LayoutConfig | None = None) -> list[int]:
    """Indices of the polygons in reading order (columns one after another, tables by rows)."""
    lines = [{"box": b} for b in boxes]
    if not lines:
        return []
    layout = _Layout(_aabbs(lines), cfg or LayoutConfig())
    return [i for block in layout.blocks(list(range(len(lines)))) for row in block.rows for i in row]


def analyse_page(result: list[dict], cfg: LayoutConfig | None = None) -> dict[str, Any]:
    """Lay out one page's read lines.

    Returns `result` (the same line dicts, in reading order), `blocks` (block -> paragraphs ->
    lines -> words; each line also carries its `index` in `result`) and `text` (rows of a block
    on separate lines, cells of a row joined by a space, paragraphs and blocks by a blank line).
    """
    if not result:
        return {"result": [], "blocks": [], "text": ""}
    layout = _Layout(_aabbs(result), cfg or LayoutConfig())
    found = layout.blocks(list(range(len(result))))
    order = [i for block in found for row in block.rows for i in row]
    position = {old: new for new, old in enumerate(order)}
    blocks, texts = [], []
    for block in found:
        pars = [_paragraph(layout, rows, result, position) for rows in layout.paragraphs(block.rows)]
        blocks.append({"kind": block.kind, **_summary(layout, [i for p in pars for i in p.pop("_ids")], result),
                       "paragraphs": pars})
        texts.extend(p.pop("_text") for p in pars)
    return {"result": [result[i] for i in order], "blocks": blocks,
            "text": "\n\n".join(t for t in texts if t)}


def _paragraph(layout: _Layout, rows: list[list[int]], result: list[dict],
               position: dict[int, int]) -> dict[str, Any]:
    ids = [i for row in rows for i in row]
    lines = [{"index": position[i], **{k: v for k, v in result[i].items() if k in _LINE_KEYS}} for i in ids]
    text = "\n".join(" ".join(result[i].get("text") or "" for i in row).strip() for row in rows)
    return {"kind": "heading" if layout.is_heading(rows) else "paragraph", **_summary(layout, ids, result),
            "lines": lines, "_ids": ids, "_text": text.strip()}


_LINE_KEYS = ("box", "box_score", "text", "text_score", "words")


def _summary(layout: _Layout, ids: list[int], result: list[dict]) -> dict[str, Any]:
    """Rectangle around the lines and their text score weighted by characters (None unread)."""
    x0, y0 = layout.boxes[ids, 0].min(), layout.boxes[ids, 1].min()
    x1, y1 = layout.boxes[ids, 2].max(), layout.boxes[ids, 3].max()
    box = [round(float(v), 1) for v in (x0, y0, x1, y0, x1, y1, x0, y1)]
    read = [(len(result[i]["text"]), result[i].get("text_score") or 0.0) for i in ids if result[i].get("text")]
    chars = sum(n for n, _ in read)
    score = round(sum(n * s for n, s in read) / chars, 5) if chars else None
    return {"box": box, "text_score": score}
