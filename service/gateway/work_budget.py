"""How much recognition one page may cost: a budget in recogniser columns that grows with the file.

Once a crop is scaled to the recogniser's line height (48 px for the PP-OCR recognisers), its cost
is linear in its width (ppocrv6-small-rec: 0.13 s at 320 columns, 1.56 s at 3,200 on a loaded core):
a w x h crop costs about 48 * w / h columns, at most 3,200 (wider crops are squashed to that).
Real pages spend 0.01-0.3 columns per byte of their file (phototest.tif 0.15, eurotext.tif 0.09,
a SROIE receipt photo 0.01); a 15 KB PNG page of dashes asked for 227,000 (15 per byte): 71
page-high "lines", each squashed to the widest input, which took tens of seconds to read. So a
page may spend `base` columns whatever its size, plus `per_byte` columns per byte of its file;
OCRSERVE_MAX_LINES alone does not bound the work (1,000 lines of 3,200 columns each).
Pure functions: the gateway's pipeline checks the crops before sending any to the recogniser.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

from service.gateway.errors import PayloadTooLarge

LINE_HEIGHT = 48
MAX_LINE_COLUMNS = 3200


def line_columns(width: int, height: int) -> int:
    """Recogniser columns of one crop (reading direction along `width`)."""
    return min(MAX_LINE_COLUMNS, max(1, math.ceil(LINE_HEIGHT * width / max(height, 1))))


def page_columns(shapes: Iterable[tuple[int, ...]]) -> int:
    """Columns of every crop of a page; `shapes` are the crops' numpy shapes (h, w[, c])."""
    return sum(line_columns(shape[1], shape[0]) for shape in shapes)


def allowed_columns(file_bytes: int, base: int, per_byte: float) -> float:
    """Recogniser columns a page of a `file_bytes` file may cost: `base + per_byte * file_bytes`."""
    return base + per_byte * file_bytes


def within_budget(columns: int, file_bytes: int, base: int, per_byte: float) -> bool:
    """Whether `columns` fit the budget of a `file_bytes` file (what check_recognition_budget enforces)."""
    return columns <= allowed_columns(file_bytes, base, per_byte)


def check_recognition_budget(columns: int, file_bytes: int, base: int, per_byte: float) -> None:
    """Refuse (413) a page whose lines would cost more than `base + per_byte * file_bytes` columns."""
    allowed = allowed_columns(file_bytes, base, per_byte)
    if columns > allowed:
        raise PayloadTooLarge(
            f"reading this page's text regions would cost {columns:,} recogniser columns (each line scaled to "
            f"{LINE_HEIGHT} px high), over the {allowed:,.0f} allowed for a {file_bytes:,}-byte file "
            f"(OCRSERVE_MAX_REC_COLUMNS + OCRSERVE_REC_COLUMNS_PER_BYTE x bytes); such a page is not text")
