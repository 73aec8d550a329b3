"""The value a KIE-labelled unit holds, where its class has a recognisable form.

A printed receipt line labelled `Date_value` often carries more than the date (`19/10/2018
20:49:59 #01`, `Date: 23/01/2018`), an amount line its currency (`RM 31.00`). The label says what
the unit is; `value` is the part of its text in the form of that class: a date for Date_value, a
time for Time_value, an amount for the money classes, and for Store_name_value the name without
a company registration number printed after it (`AEON CO. (M) BHD (126926-H)`: Malaysian,
Singaporean and similar business numbers, 4 or more digits with a check letter). Units of other classes, or whose text holds
no such form, get no `value`. The patterns are the usual printed forms, not tuned to any set:
day / month / year in any order with `/`, `-` or `.`, month names in English, 24- or 12-hour times,
amounts with two decimals (`,` or `.` as the decimal mark).
"""
from __future__ import annotations

import re

from handlers.ops.amounts import AMOUNT as _AMOUNT

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(
    r"\b(?:\d{4}[/.-]\d{1,2}[/.-]\d{1,2}"            # 2018-01-23
    r"|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"                # 23/01/2018, 01-23-18, 23.01.2018
    r"|\d{1,2}[ -]?" + _MONTH + r"[ ,-]*'?\d{2,4}"     # 23 Jan 2018, 23-JAN-18
    r"|" + _MONTH + r" ?\d{1,2},? ?'?\d{2,4})"          # Jan 23, 2018
    r"(?!\d)", re.IGNORECASE)
_TIME = re.compile(r"(?<![\d.])\d{1,2}:\d{2}(?::\d{2})?(?: ?[ap]\.?m\.?)?(?![\d])", re.IGNORECASE)

# a registration number closing a store-name line: `(728384-M)`, `(139386 X)`, `Co. Reg. No: 1135772-K`,
# `860671-D`; in brackets, after a `reg` keyword, or hyphenated (a bare `1234 A` may be part of the name)
_NUMBER = r"\d{4,}\s*-?\s*[A-Z]"
_REG_WORD = r"(?:co(?:mpany)?\.?\s*)?reg(?:istration)?\.?\s*(?:no\.?\s*)?:?\s*"
_REGISTRATION = re.compile(
    r"[\s,]*(?:\(\s*(?:" + _REG_WORD + r")?" + _NUMBER + r"\s*\)?"
    r"|" + _REG_WORD + _NUMBER + r"|\d{4,}-[A-Z])\s*$", re.IGNORECASE)

_MONEY = ("Total_value", "Subtotal_value", "Tax_value", "Tips_value", "Prod_price_value")


def field_value(label: str, text: str) -> str | None:
    """The date / time / amount in `text` for a unit of class `label` (the first date or time,
    the last amount: totals print the figure after their words); None when there is none."""
    if label == "Date_value":
        match = _DATE.search(text)
        return match.group(0) if match else None
    if label == "Time_value":
        match = _TIME.search(text)
        return match.group(0) if match else None
    if label == "Store_name_value":
        match = _REGISTRATION.search(text)
        name = text[:match.start()].strip() if match else ""
        return name or None
    if label in _MONEY:
        found = _AMOUNT.findall(text)
        return found[-1] if found else None
    return None


def add_values(units: list[dict]) -> None:
    """Set `value` on each labelled unit (a line or a segment) whose class and text give one."""
    for unit in units:
        value = field_value(unit.get("label", ""), unit.get("text", ""))
        if value is not None:
            unit["value"] = value
