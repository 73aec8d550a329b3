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

from service.errors import BadOptions, PayloadTooLarge

MAX_TEXT_CHARS = 1000
MAX_COORDINATE = 1e6  # pixels; a page is at most tens of thousands
MAX_INSTANCES = 10_000  # hard cap before any per-model limit (SDMG-R's is 300, checked by the worker)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_box(box: Any, index: int) -> None:
    if not isinstance(box, list) or not all(_is_number(v) for v in box):
        raise BadOptions(f"instances[{index}].box must be a list of numbers")
    for value in box:
        if not math.isfinite(value) or abs(value) > MAX_COORDINATE:
            raise BadOptions(f"instances[{index}].box holds {value!r}: coordinates must be finite and within "
                             f"±{MAX_COORDINATE:g} pixels")


def _check_text(text: Any, index: int) -> None:
    if not isinstance(text, str):
        raise BadOptions(f"instances[{index}].text must be a string")
    if len(text) > MAX_TEXT_CHARS:
        raise PayloadTooLarge(f"instances[{index}].text has {len(text)} characters, over the limit of "
                              f"{MAX_TEXT_CHARS}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadOptions(f"instances[{index}].text is not valid Unicode (a lone surrogate)") from None


def check_instances(items: Any) -> None:
    """Raise a 4xx error naming the first instance the service would choke on."""
    if not isinstance(items, list):
        raise BadOptions("instances must be a list of {\"box\": [...], \"text\": \"...\"}")
    if len(items) > MAX_INSTANCES:
        raise PayloadTooLarge(f"{len(items)} instances in one request, over the limit of {MAX_INSTANCES}")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadOptions(f"instances[{index}] must be an object {{\"box\": [...], \"text\": \"...\"}}")
        _check_box(item.get("box"), index)
        _check_text(item.get("text"), index)
