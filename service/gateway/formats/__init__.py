"""Renderers of an /ocr response into document formats: pure functions of the response and the
page images, shared by /ocr and the job results.

`render(fmt, response, page_images) -> (bytes, media_type)`: `response` is the /ocr answer as
plain data (pages with `result`, `blocks`, `text`); `page_images` are the pages in order, as the
pipeline decodes them (numpy BGR arrays) or PIL images; only `pdf` uses them.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from service.gateway.formats import alto, hocr, pdf, text

FORMATS = ("json", "text", "hocr", "alto", "pdf")


def _json(response: dict[str, Any], page_images: Sequence[Any]) -> tuple[bytes, str]:
    return json.dumps(response, ensure_ascii=False).encode(), "application/json"


_RENDERERS: dict[str, Callable[[dict[str, Any], Sequence[Any]], tuple[bytes, str]]] = {
    "json": _json, "text": text.render, "hocr": hocr.render, "alto": alto.render, "pdf": pdf.render}


def render(fmt: str, response: dict[str, Any], page_images: Sequence[Any] = ()) -> tuple[bytes, str]:
    """The response in format `fmt` (one of FORMATS) and its media type."""
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return _RENDERERS[fmt](response, page_images)
