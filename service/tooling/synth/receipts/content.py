"""What a receipt says: store, address, phone, date, items and totals that add up (in cents)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from . import vocab
from .items import Item, make_items

REGIONS = ("us", "uk", "eu")
# Share of each region and the tax systems they use.
REGION_P = (0.6, 0.2, 0.2)
CURRENCY = {"us": "$", "uk": "£", "eu": "€"}


@dataclass
class Receipt:
    """Everything a receipt prints, already formatted as text, plus the numbers behind it."""
    kind: str
    region: str
    store_name: list[str]
    address: list[str]
    phone: str
    date: str
    time: str
    items: list[Item]
    subtotal_cents: int
    tax_cents: int
    tax_label: str
    tax_included: bool
    tips_cents: int
    total_cents: int
    keys: dict[str, str | None]
    money_style: dict
    header_others: list[str] = field(default_factory=list)
    payment: list[tuple[str, str]] = field(default_factory=list)
    footer_others: list[str] = field(default_factory=list)

    def money(self, cents: int, with_symbol: bool | None = None) -> str:
        """Format an amount the way this receipt prints prices."""
        return format_money(cents, self.money_style, with_symbol)


def format_money(cents: int, style: dict, with_symbol: bool | None = None) -> str:
    """'12.50', '$12.50', '12,50 €' ... according to ``style`` (symbol, sep, symbol_after)."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    text = f"{whole}{style['sep']}{frac:02d}"
    show = style["symbol_on_prices"] if with_symbol is None else with_symbol
    if not show:
        return sign + text
    if style["symbol_after"]:
        return f"{sign}{text} {style['symbol']}"
    return f"{sign}{style['symbol']}{text}"


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _store_name(rng, kind: str) -> list[str]:
    r = rng.random()
    if r < 0.3:
        name = [_pick(rng, vocab.BRANDLIKE)]
    elif r < 0.55:
        name = [f"{_pick(rng, vocab.STORE_FIRST)} {_pick(rng, vocab.STORE_KIND[kind])}"]
    elif r < 0.7:
        name = [f"{_pick(rng, vocab.OWNERS)} {_pick(rng, vocab.STORE_KIND[kind])}"]
    else:
        name = [f"{_pick(rng, vocab.STORE_FIRST)} {_pick(rng, vocab.STORE_SECOND)}",
                _pick(rng, vocab.STORE_KIND[kind])]
    if rng.random() < 0.5:
        name = [n.upper() for n in name]
    return name


def _address(rng, region: str) -> list[str]:
    num = int(rng.integers(1, 9999))
    if region == "us":
        street = f"{num} {_pick(rng, vocab.US_STREETS)} {_pick(rng, vocab.US_SUFFIX)}"
        city, state = _pick(rng, vocab.US_CITIES)
        zipc = f"{int(rng.integers(10000, 99999))}"
        lines = [street, f"{city}, {state} {zipc}" if rng.random() < 0.7 else f"{city} {state} {zipc}"]
    elif region == "uk":
        letters = "ABCDEFGHJKLMNPRSTUWXY"
        pc = (f"{_pick(rng, letters)}{_pick(rng, letters)}{int(rng.integers(1, 20))} "
              f"{int(rng.integers(1, 9))}{_pick(rng, letters)}{_pick(rng, letters)}")
        lines = [f"{int(rng.integers(1, 300))} {_pick(rng, vocab.UK_STREETS)}",
                 f"{_pick(rng, vocab.UK_TOWNS)} {pc}"]
    else:
        lines = [f"{_pick(rng, vocab.EU_STREETS)} {int(rng.integers(1, 200))}",
                 f"{int(rng.integers(10000, 99999))} {_pick(rng, vocab.EU_TOWNS)}"]
    if rng.random() < 0.35:
        return [", ".join(lines)]  # one long address line
    if rng.random() < 0.2:
        return [lines[0] + (" Suite " + str(int(rng.integers(1, 400))) if region == "us" else ""), lines[1]]
    return lines


def _phone(rng, region: str) -> str:
    d = rng.integers(0, 10, size=10)
    s = "".join(map(str, d))
    a = f"{int(rng.integers(2, 10))}{s[1:3]}"
    if region == "us":
        return _pick(rng, (f"({a}) {s[3:6]}-{s[6:]}", f"{a}-{s[3:6]}-{s[6:]}",
                           f"{a}.{s[3:6]}.{s[6:]}", f"({a}){s[3:6]}-{s[6:]}", f"1-{a}-{s[3:6]}-{s[6:]}"))
    if region == "uk":
        return _pick(rng, (f"020 {s[2:6]} {s[6:]}", f"01{s[1:4]} {s[4:]}", f"+44 1{s[1:4]} {s[4:]}"))
    return _pick(rng, (f"+49 30 {s[3:]}", f"0{s[1:3]} {s[3:6]} {s[6:]}", f"+33 1 {s[2:4]} {s[4:6]} {s[6:8]} {s[8:]}"))


def _date_time(rng, region: str) -> tuple[str, str]:
    day = dt.datetime(2014, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3650)),
                                                 minutes=int(rng.integers(7 * 60, 23 * 60)))
    us = ("%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y", "%b %d, %Y", "%Y-%m-%d", "%a %m/%d/%Y", "%d-%b-%Y")
    other = ("%d/%m/%Y", "%d/%m/%y", "%d.%m.%Y", "%d.%m.%y", "%Y-%m-%d", "%d %b %Y", "%d-%m-%Y")
    date = day.strftime(_pick(rng, us if region == "us" else other))
    times = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M:%S %p", "%I:%M%p") if region == "us" else ("%H:%M", "%H:%M:%S")
    text = day.replace(second=int(rng.integers(60))).strftime(_pick(rng, times))
    return (date.upper() if rng.random() < 0.3 else date), text


def _tax(rng, region: str, subtotal: int) -> tuple[int, str, bool]:
    if region == "us":
        rate = float(rng.choice([0.0, 4.0, 5.0, 6.0, 6.25, 7.0, 7.25, 8.0, 8.25, 8.875, 9.5, 10.25]))
        tax = int(round(subtotal * rate / 100))
        label = f"{rate:g}%" if rng.random() < 0.5 else ""
        return tax, label, False
    rate = float(rng.choice([20.0, 5.0] if region == "uk" else [19.0, 7.0, 20.0, 21.0, 10.0]))
    tax = int(round(subtotal - subtotal / (1 + rate / 100)))
    return tax, f"{rate:g}%", True


def _keys(rng, kind: str, region: str, tips: bool) -> dict[str, str | None]:
    """Key word per field, or None when the receipt prints the value without a key."""
    present = {"store": .03, "addr": .04, "tel": .55, "date": .45, "time": .35, "item": .25,
               "qty": .2, "price": .2, "subtotal": .8, "tax": .92, "tips": 1.0, "total": .97}
    keys = {}
    for name, p in present.items():
        keys[name] = _pick(rng, vocab.KEYS[name]) if rng.random() < p else None
    if region != "us" and keys["tax"] is not None and rng.random() < 0.7:
        keys["tax"] = _pick(rng, ("VAT", "MwSt", "TVA", "IVA", "BTW", "VAT incl.")) if region == "eu" else "VAT"
    if region != "us" and keys["subtotal"] in ("NET TOTAL", "Total before tax"):
        keys["subtotal"] = "SUBTOTAL"  # prices include VAT here: nothing is "before tax"
    if region == "us" and keys["tax"] == "VAT":
        keys["tax"] = "TAX"
    if not tips:
        keys["tips"] = None
    return keys


def _money_style(rng, region: str) -> dict:
    symbol = CURRENCY[region]
    return {"symbol": symbol, "sep": "," if region == "eu" and rng.random() < 0.7 else ".",
            "symbol_after": region == "eu" and rng.random() < 0.6,
            "symbol_on_prices": rng.random() < 0.3, "symbol_on_totals": rng.random() < 0.6,
            "price_flags": region == "us" and rng.random() < 0.3}


def _header_others(rng, region: str) -> list[str]:
    pool = [f"Store #{int(rng.integers(1, 9999)):04d}", f"www.{_pick(rng, vocab.BRANDLIKE).lower()}.com",
            "Open 7 days a week", f"Mon-Sat {int(rng.integers(6, 10))}am-{int(rng.integers(8, 11))}pm",
            "SALES RECEIPT", "RECEIPT", f"VAT No. GB{int(rng.integers(10**8, 10**9))}" if region == "uk"
            else f"Tax ID {int(rng.integers(10**7, 10**8))}"]
    k = int(rng.choice([0, 1, 1, 2]))
    return [pool[int(i)] for i in rng.choice(len(pool), size=k, replace=False)]


def _payment(rng, r_total: int, style: dict) -> list[tuple[str, str]]:
    method = _pick(rng, vocab.PAYMENTS)
    lines: list[tuple[str, str]] = []
    if method == "CASH":
        paid = int(np.ceil(r_total / 500.0) * 500) + int(rng.choice([0, 0, 500, 1000]))
        lines += [("CASH", format_money(paid, style, False)),
                  ("CHANGE", format_money(paid - r_total, style, False))]
    else:
        lines.append((f"{method} ****{int(rng.integers(0, 9999)):04d}" if rng.random() < 0.6 else method,
                      format_money(r_total, style, False)))
        if rng.random() < 0.5:
            lines.append((f"AUTH CODE: {int(rng.integers(0, 999999)):06d}", ""))
        if rng.random() < 0.3:
            lines.append(("APPROVED", ""))
    return lines


def _footer_others(rng) -> list[str]:
    out = []
    if rng.random() < 0.6:
        out.append(f"Cashier: {_pick(rng, vocab.CASHIERS)}" if rng.random() < 0.5
                   else f"Server: {_pick(rng, vocab.CASHIERS)}")
    if rng.random() < 0.5:
        out.append(f"Trans #{int(rng.integers(1000, 99999))} Reg {int(rng.integers(1, 12)):02d}")
    if rng.random() < 0.75:
        out.append(_pick(rng, vocab.THANKS))
    if rng.random() < 0.35:
        out.append(_pick(rng, vocab.FOOTERS))
    return out


def make_receipt(rng: np.random.Generator) -> Receipt:
    """Draw one receipt's content; its subtotal, tax, tip and total add up exactly."""
    kind = _pick(rng, ("grocery", "restaurant", "retail"))
    region = REGIONS[int(rng.choice(3, p=REGION_P))]
    items = make_items(rng, kind)
    subtotal = sum(i.line_cents - i.discount_cents for i in items)
    tax, tax_label, included = _tax(rng, region, subtotal)
    tips = 0
    with_tips = kind == "restaurant" and region == "us" and rng.random() < 0.45
    if with_tips:
        tips = int(round(subtotal * float(rng.choice([0.1, 0.15, 0.18, 0.2]))))
    total = subtotal + tips + (0 if included else tax)
    style = _money_style(rng, region)
    date, time = _date_time(rng, region)
    return Receipt(kind=kind, region=region, store_name=_store_name(rng, kind),
                   address=_address(rng, region), phone=_phone(rng, region), date=date, time=time,
                   items=items, subtotal_cents=subtotal, tax_cents=tax, tax_label=tax_label,
                   tax_included=included, tips_cents=tips, total_cents=total,
                   keys=_keys(rng, kind, region, with_tips), money_style=style,
                   header_others=_header_others(rng, region), payment=_payment(rng, total, style),
                   footer_others=_footer_others(rng))
