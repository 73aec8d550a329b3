"""Box helpers shared by the renderers: polygons in image pixels to rectangles."""
from __future__ import annotations

from typing import Sequence


def rect(box: Sequence[float]) -> tuple[int, int, int, int]:
    """Integer x0, y0, x1, y1 around a polygon x1, y1, ..., xn, yn (rounded outwards)."""
    xs, ys = box[0::2], box[1::2]
    return int(min(xs)), int(min(ys)), int(-(-max(xs) // 1)), int(-(-max(ys) // 1))


def blocks_of(page: dict) -> list[dict]:
    """The page's layout blocks; a page without them (older responses) is one block of its lines."""
    if page.get("blocks") is not None:
        return page["blocks"]
    w, h = page["width"], page["height"]
    box = [0, 0, w, 0, w, h, 0, h]
    lines = page.get("result", [])
    return [{"kind": "text", "box": box, "text_score": None,
             "paragraphs": [{"kind": "paragraph", "box": box, "text_score": None, "lines": lines}]}] if lines else []


def words_of(line: dict) -> list[dict]:
    """The line's words; a read line without word boxes is one word; an unread line has none."""
    if line.get("words"):
        return line["words"]
    if line.get("text"):
        return [{"box": line["box"], "text": line["text"], "text_score": line.get("text_score") or 0.0}]
    return []
