"""Checks on the caller's own KIE instances before they travel to TorchServe.

The worker parses them again (handlers/kie.py); these checks exist in the gateway too because
some inputs break the gateway itself (a lone surrogate cannot be written back as UTF-8 JSON)
or cost the worker far more than their size suggests (a million-character text, a box at
1e308). Limits are generous for real documents: a receipt line is tens of characters, and
coordinates are pixels.
"""
from __future__ import annotations

import math
from typing import Any

from service.gateway.errors import BadRequest, PayloadTooLarge

MAX_TEXT_CHARS = 1000
MAX_COORDINATE = 1e6  # pixels; a page is at most tens of thousands
MAX_INSTANCES = 10_000  # hard cap before any per-model limit (SDMG-R's is 300, checked by the worker)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_box(box: Any, index: int) -> None:
    if not isinstance(box, list) or not all(_is_number(v) for v in box):
        return  # the worker names what is wrong with its shape
    for value in box:
        if not math.isfinite(value) or abs(value) > MAX_COORDINATE:
            raise BadRequest(f"instances[{index}].box holds {value!r}: coordinates must be finite and within "
                             f"±{MAX_COORDINATE:g} pixels")


def _check_text(text: Any, index: int) -> None:
    if not isinstance(text, str):
        return  # the worker says the instance has no text
    if len(text) > MAX_TEXT_CHARS:
        raise PayloadTooLarge(f"instances[{index}].text has {len(text)} characters, over the limit of "
                              f"{MAX_TEXT_CHARS}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"instances[{index}].text is not valid Unicode (a lone surrogate)") from None


def check_instances(items: Any) -> None:
    """Raise a 4xx error naming the first instance the service would choke on; shapes the
    worker reports itself (a missing text, a 3-number box) are left to it."""
    if not isinstance(items, list):
        return
    if len(items) > MAX_INSTANCES:
        raise PayloadTooLarge(f"{len(items)} instances in one request, over the limit of {MAX_INSTANCES}")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        _check_box(item.get("box"), index)
        _check_text(item.get("text"), index)
