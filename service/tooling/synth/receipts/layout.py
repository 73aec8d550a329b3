"""Where each piece of text goes: a receipt becomes lines of cells (text, class, alignment).

Cells on one line are separate text runs (the renderer keeps a wide gap between them, so a line
detector splits them too); words inside one cell are single-spaced and form one box.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .content import Receipt
from .labels import FIELD_IDS, IGNORE, OTHERS


@dataclass
class Cell:
    """One text run. ``align``: 'left', 'right', 'center' or 'col' (left edge at ``pos`` * width)."""
    text: str
    label: int
    align: str = "left"
    pos: float = 0.0


@dataclass
class Line:
    """One printed row. ``kind``: 'text', 'rule' (graphic line), 'barcode', 'logo', 'blank'."""
    cells: list[Cell] = field(default_factory=list)
    style: str = "body"  # 'title', 'bold', 'body', 'small', 'faded'
    kind: str = "text"


@dataclass
class LayoutStyle:
    """Per-receipt layout choices."""
    header_align: str
    items: str  # 'simple', 'qty_col', 'qty_prefix', 'subline', 'unit_col'
    pairs: str  # 'same_line', 'column', 'next_line'
    rule_char: str  # '' = graphic rule, else a printed separator character
    value_col: float
    code_apart: bool  # a product code as its own run rather than merged into the name


def _choice(rng: np.random.Generator, options, p=None):
    return options[int(rng.choice(len(options), p=p))]


def choose_style(rng: np.random.Generator) -> LayoutStyle:
    """Draw the layout choices of one receipt."""
    return LayoutStyle(header_align=_choice(rng, ("center", "left"), p=(0.8, 0.2)),
                       items=_choice(rng, ("simple", "qty_col", "qty_prefix", "subline", "unit_col"),
                                     p=(0.3, 0.2, 0.15, 0.2, 0.15)),
                       pairs=_choice(rng, ("same_line", "column", "next_line"), p=(0.7, 0.2, 0.1)),
                       rule_char=_choice(rng, ("", "-", "=", "*", "_")),
                       value_col=float(rng.uniform(0.45, 0.62)), code_apart=rng.random() < 0.5)


def _rule(st: LayoutStyle) -> Line:
    if not st.rule_char:
        return Line(kind="rule")
    return Line([Cell(st.rule_char * 60, OTHERS, "fill")], style="body")


def pair_lines(key: str | None, value: str, name: str, st: LayoutStyle, style: str = "body",
               merged: bool = False) -> list[Line]:
    """Key and value of one field, arranged by the receipt's pair style."""
    value_id, key_id = FIELD_IDS[name]
    if key is None:
        return [Line([Cell(value, value_id, "right" if name in ("subtotal", "tax", "tips", "total")
                           else "left")], style)]
    if merged:  # "Tel: 555-0100" is one text run for a detector, labelled as the value
        return [Line([Cell(f"{key} {value}", value_id)], style)]
    if st.pairs == "next_line":
        return [Line([Cell(key, key_id)], style), Line([Cell(value, value_id, "right")], style)]
    if st.pairs == "column":
        return [Line([Cell(key, key_id), Cell(value, value_id, "col", st.value_col)], style)]
    return [Line([Cell(key, key_id), Cell(value, value_id, "right")], style)]


def _header(r: Receipt, st: LayoutStyle, rng) -> list[Line]:
    a = st.header_align
    lines: list[Line] = [Line(kind="logo")] if rng.random() < 0.25 else []
    for i, name in enumerate(r.store_name):
        lines.append(Line([Cell(name, FIELD_IDS["store"][0], a)], "title" if i == 0 else "bold"))
    others = [Line([Cell(t, OTHERS, a)], "small") for t in r.header_others]
    split = int(rng.integers(0, len(others) + 1))
    lines += others[:split]
    if r.keys["addr"] and len(r.address) == 1:
        lines += pair_lines(r.keys["addr"], r.address[0], "addr", st)
    else:
        lines += [Line([Cell(t, FIELD_IDS["addr"][0], a)]) for t in r.address]
    if rng.random() < 0.9:
        key = r.keys["tel"]
        if key is None or rng.random() < 0.5:
            text = r.phone if key is None else f"{key} {r.phone}"
            lines.append(Line([Cell(text, FIELD_IDS["tel"][0], a)]))
        else:
            lines += pair_lines(key, r.phone, "tel", st)
    lines += others[split:]
    return lines


def _date_time(r: Receipt, st: LayoutStyle, rng) -> list[Line]:
    kd, kt = r.keys["date"], r.keys["time"]
    d_id, dk_id = FIELD_IDS["date"]
    t_id, tk_id = FIELD_IDS["time"]
    if rng.random() < 0.6:  # date and time on one line, far apart
        cells = ([Cell(kd, dk_id)] if kd else []) + [Cell(r.date, d_id, "col" if kd else "left", 0.17)]
        if kt and rng.random() < 0.5:
            cells += [Cell(kt, tk_id, "col", 0.58), Cell(r.time, t_id, "right")]
        else:
            cells += [Cell(r.time, t_id, "right")]
        return [Line(cells)]
    return (pair_lines(kd, r.date, "date", st, merged=rng.random() < 0.3)
            + pair_lines(kt, r.time, "time", st, merged=rng.random() < 0.3))


def _item_header(r: Receipt, st: LayoutStyle) -> list[Line]:
    keys = {k: r.keys[k] for k in ("item", "qty", "price")}
    if not any(keys.values()):
        return []
    cells = []
    if keys["qty"] and st.items == "qty_col":
        cells.append(Cell(keys["qty"], FIELD_IDS["qty"][1]))
    if keys["item"]:
        cells.append(Cell(keys["item"], FIELD_IDS["item"][1], "col" if cells else "left", 0.12))
    if keys["price"]:
        cells.append(Cell(keys["price"], FIELD_IDS["price"][1], "right"))
    return [Line(cells, "bold")] if cells else []


def _price_cell(r: Receipt, cents: int, rng) -> Cell:
    text = r.money(cents)
    if r.money_style.get("price_flags"):  # US tax-status letter after the price ("3.99 F")
        text += " " + str(rng.choice(["F", "T", "N", "F", "T", "B"]))
    return Cell(text, FIELD_IDS["price"][0], "right")


def _name_cells(it, st: LayoutStyle, pos: float = 0.0) -> list[Cell]:
    """The product name, with its code merged in front or as its own run."""
    item_id = FIELD_IDS["item"][0]
    align = "col" if pos else "left"
    if not it.code:
        return [Cell(it.name, item_id, align, pos)]
    if st.code_apart:
        return [Cell(it.code, OTHERS, align, pos), Cell(it.name, item_id, "col", pos + 0.14)]
    return [Cell(f"{it.code} {it.name}", item_id, align, pos)]


def _item_lines(r: Receipt, st: LayoutStyle, rng) -> list[Line]:
    qty_id = FIELD_IDS["qty"][0]
    lines = []
    for it in r.items:
        price = _price_cell(r, it.line_cents, rng)
        if st.items == "qty_col":
            lines.append(Line([Cell(str(it.qty), qty_id)] + _name_cells(it, st, 0.12) + [price]))
        elif st.items == "qty_prefix" and it.qty > 1:
            lines.append(Line([Cell(f"{it.qty} {it.name}", FIELD_IDS["item"][0]), price]))
        elif st.items == "unit_col" and it.qty > 1:
            unit = Cell(f"{it.qty} x {r.money(it.unit_cents)}", qty_id, "col", st.value_col)
            lines.append(Line(_name_cells(it, st) + [unit, price]))
        elif it.weight:  # weighed goods always print the weight and unit price under the name
            unit = it.weight.split()[1]
            lines.append(Line(_name_cells(it, st) + [price]))
            lines.append(Line([Cell(f"{it.weight} @ {r.money(it.unit_cents)}/{unit}", qty_id, "col", 0.06)], "small"))
        else:
            lines.append(Line(_name_cells(it, st) + [price]))
            if st.items == "subline" and it.qty > 1:
                lines.append(Line([Cell(f"{it.qty} @ {r.money(it.unit_cents)}", qty_id, "col", 0.06)], "small"))
        if it.discount_cents:
            lines.append(Line([Cell(it.discount_text, OTHERS, "col", 0.06),
                               Cell(r.money(-it.discount_cents), OTHERS, "right")]))
    return lines


def _totals(r: Receipt, st: LayoutStyle, rng) -> list[Line]:
    show = r.money_style["symbol_on_totals"]
    k = r.keys
    lines: list[Line] = []
    if k["subtotal"] or rng.random() < 0.3:
        lines += pair_lines(k["subtotal"], r.money(r.subtotal_cents, show), "subtotal", st)
    if r.tax_cents or k["tax"]:
        tax_key = k["tax"] and (f"{k['tax']} {r.tax_label}" if r.tax_label else k["tax"])
        lines += pair_lines(tax_key, r.money(r.tax_cents, show), "tax", st)
    if r.tips_cents:
        lines += pair_lines(k["tips"], r.money(r.tips_cents, show), "tips", st)
    big = "title" if rng.random() < 0.3 else ("bold" if rng.random() < 0.6 else "body")
    lines += pair_lines(k["total"], r.money(r.total_cents, show or rng.random() < 0.3), "total", st, big)
    return lines


def _footer(r: Receipt, st: LayoutStyle, rng) -> list[Line]:
    lines = [Line([Cell(a, OTHERS)] + ([Cell(b, OTHERS, "right")] if b else [])) for a, b in r.payment]
    if r.keys["store"]:  # card slips repeat the merchant: "Merchant:   GREEN GROCERY"
        lines += pair_lines(r.keys["store"], " ".join(r.store_name), "store", st)
    if rng.random() < 0.5:
        lines.append(Line(kind="blank"))
    lines += [Line([Cell(t, OTHERS, "center" if rng.random() < 0.7 else "left")], "small")
              for t in r.footer_others]
    if rng.random() < 0.3:
        lines.append(Line(kind="barcode"))
        if rng.random() < 0.6:
            lines.append(Line([Cell(" ".join(str(int(d)) for d in rng.integers(0, 10, 12)), OTHERS, "center")],
                              "small"))
    if rng.random() < 0.25:  # faded / smeared print that annotators mark as Ignore
        letters = rng.choice(list("abcdefghijklmnopqrstuvwxyz0123456789 "), size=int(rng.integers(6, 24)))
        lines.append(Line([Cell("".join(letters).strip() or "x", IGNORE, "center")], "faded"))
    return lines


def layout_receipt(r: Receipt, rng: np.random.Generator) -> list[Line]:
    """All lines of one receipt, top to bottom."""
    st = choose_style(rng)
    lines = _header(r, st, rng) + [Line(kind="blank")]
    lines += _date_time(r, st, rng)
    lines += [_rule(st)] + _item_header(r, st) + _item_lines(r, st, rng)
    lines += [_rule(st)] + _totals(r, st, rng) + [_rule(st) if rng.random() < 0.5 else Line(kind="blank")]
    lines += _footer(r, st, rng)
    return lines
