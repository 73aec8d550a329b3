"""Per-request detector options: names, bounds and parsing, defined once for the worker
(handlers/detection.py) and the gateway (the /ocr query schema in service/gateway/routes/ocr.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.api.errors import BadOptions


@dataclass(frozen=True)
class Bound:
    """The closed range [low, high] that keeps an option meaningful; `integer` options are cast."""

    low: float
    high: float
    integer: bool = False
    description: str = ""


DET_OPTION_BOUNDS: dict[str, Bound] = {
    "mask_thr": Bound(0.0, 1.0, description="DB binarisation threshold"),
    "min_text_score": Bound(0.0, 1.0, description="DB minimum box score"),
    "unclip_ratio": Bound(0.5, 5.0, description="DB box expansion"),
    "limit_side_len": Bound(32, 4096, integer=True, description="detector resize limit (px)"),
    "max_side_len": Bound(32, 8192, integer=True, description="cap on the resized long side (px)"),
}


def parse_det_options(raw: dict[str, Any]) -> dict[str, float]:
    """The detector options among `raw` (others are ignored), as numbers; BadOptions (422)
    names the first that is not a number or lies outside its bounds."""
    options: dict[str, float] = {}
    for key, value in raw.items():
        bound = DET_OPTION_BOUNDS.get(key)
        if bound is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise BadOptions(f"option {key} must be a number, got {value!r}") from None
        if not bound.low <= number <= bound.high:
            raise BadOptions(f"option {key}={number} is outside [{bound.low:g}, {bound.high:g}]")
        options[key] = int(number) if bound.integer else number
    return options
