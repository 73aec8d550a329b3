"""Plain text: each page's text in reading order, pages separated by a form feed (as pdftotext)."""
from __future__ import annotations

from typing import Any, Sequence


def page_text(page: dict[str, Any]) -> str:
    """The page's reading-order text (the lines of `result` when the layout is absent)."""
    if page.get("text") is not None:
        return page["text"]
    return "\n".join(line.get("text") or "" for line in page.get("result", []))


def render(response: dict[str, Any], page_images: Sequence[Any] = ()) -> tuple[bytes, str]:
    body = "\f".join(page_text(page) for page in response["pages"])
    return (body + "\n").encode(), "text/plain; charset=utf-8"
