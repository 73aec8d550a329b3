"""`merge=True` of readtext: words on one text line joined into one box (MMOCR 0.x semantics).

Two boxes share a line when their vertical overlap is at least `min_y_overlap` of the shorter
one; along a line, neighbours closer than `max_x_dist` pixels are joined left to right with a
space. A merged box is the axis-aligned rectangle around its parts, clockwise from top-left.
"""
from __future__ import annotations


def _extent(box: list[float]) -> tuple[float, float, float, float]:
    xs, ys = box[0::2], box[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _same_line(a: tuple, b: tuple, min_y_overlap: float) -> bool:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    shorter = min(a[3] - a[1], b[3] - b[1])
    return shorter > 0 and overlap / shorter >= min_y_overlap


def _rectangle(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def merge_lines(results: list[dict], max_x_dist: float = 20, min_y_overlap: float = 0.5) -> list[dict]:
    """Join the `{'box', 'text'}` results that continue each other on a line; returns new dicts."""
    order = sorted(range(len(results)), key=lambda i: _extent(results[i]["box"])[0])
    used: set[int] = set()
    merged = []
    for i in order:
        if i in used:
            continue
        line = [i] + [j for j in order if j != i and j not in used
                      and _same_line(_extent(results[i]["box"]), _extent(results[j]["box"]), min_y_overlap)]
        used.update(line)
        run = [line[0]]
        for j in line[1:]:
            if _extent(results[j]["box"])[0] - max(_extent(results[k]["box"])[2] for k in run) <= max_x_dist:
                run.append(j)
            else:
                merged.append(_join(results, run))
                run = [j]
        merged.append(_join(results, run))
    return merged


def _join(results: list[dict], run: list[int]) -> dict:
    extents = [_extent(results[k]["box"]) for k in run]
    box = _rectangle(min(e[0] for e in extents), min(e[1] for e in extents),
                     max(e[2] for e in extents), max(e[3] for e in extents))
    return {"box": box, "text": " ".join(results[k]["text"] for k in run)}
