"""An amount of money as receipts print it: digits (thousands grouped by `,` or `.`, or not) and two
decimals after `.` or `,` (`9.36`, `$14.20`, `1,234.50`, `RM2.35`, `12,50`), not inside a longer number."""
from __future__ import annotations

import re

AMOUNT = re.compile(r"(?<![\d.,])-?(?:\d{1,3}(?:[,.]\d{3})+|\d+)[.,]\d{2}(?![\d.,])")
#: a text that is an amount and nothing else but a currency sign, a minus or an asterisk (`$8.73`,
#: `-3.29`, `108.85-`); `TIP 3.00` or `RM2.35` are not: their letters may be the amount's key
BARE_AMOUNT = re.compile(r"[\s$£€¥*+-]*" + AMOUNT.pattern + r"[\s*-]*")
