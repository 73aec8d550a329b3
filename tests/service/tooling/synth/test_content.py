"""What the receipts say: totals add up in the printed text, keys come with their values."""
from __future__ import annotations

import re

import numpy as np
import pytest

from service.tooling.synth.receipts.content import format_money, make_receipt
from service.tooling.synth.receipts.labels import CLASS_ID, FIELD_IDS
from service.tooling.synth.receipts.layout import layout_receipt
from service.tooling.synth.receipts.render import render_paper

N = 40


@pytest.fixture(scope="module")
def receipts():
    """Boxes of N receipts as printed on the flat paper (before the photo warp)."""
    out = []
    for i in range(N):
        rng = np.random.default_rng(i)
        out.append(render_paper(layout_receipt(make_receipt(rng), rng), rng)[1])
    return out


def cents(text: str) -> int:
    """'$12.50', '12,50 €', '£3.99', '3.99 F' (US tax flag), '-0.50' -> cents."""
    m = re.fullmatch(r"(-?)[$£€]?\s*(\d+)[.,](\d\d)\s*[$£€]?( [A-Z])?", text.strip())
    assert m, f"not an amount: {text!r}"
    return (-1 if m.group(1) else 1) * (int(m.group(2)) * 100 + int(m.group(3)))


def values(boxes, name: str) -> list[int]:
    return [cents(b.text) for b in boxes if b.label == CLASS_ID[name]]


def test_printed_item_prices_subtotal_tax_tips_and_total_add_up(receipts):
    checked_subtotals = 0
    for boxes in receipts:
        savings = [cents(b.text) for b in boxes if b.label == CLASS_ID["Others"] and re.match(r"-[$£€]?\d", b.text)]
        items = sum(values(boxes, "Prod_price_value")) + sum(savings)
        [total] = values(boxes, "Total_value")
        tax, tips = sum(values(boxes, "Tax_value")), sum(values(boxes, "Tips_value"))
        subtotal = values(boxes, "Subtotal_value")
        if subtotal:
            assert subtotal == [items]
            checked_subtotals += 1
        # sales tax is added on top; VAT is already inside the item prices
        assert total in (items + tax + tips, items + tips), (items, tax, tips, total)
    assert checked_subtotals > N // 3


def test_tax_is_the_printed_rate_of_the_subtotal():
    seen = 0
    for i in range(200):
        r = make_receipt(np.random.default_rng(i))
        if r.tax_label and not r.tax_included:
            rate = float(r.tax_label.rstrip("%"))
            assert r.tax_cents == round(r.subtotal_cents * rate / 100)
            seen += 1
        elif r.tax_included:
            rate = float(r.tax_label.rstrip("%"))
            assert abs(r.subtotal_cents - r.tax_cents - r.subtotal_cents / (1 + rate / 100)) <= 0.5
    assert seen > 20


def test_every_rendered_key_has_its_value_after_it(receipts):
    pairs_seen = 0
    for boxes in receipts:
        for name, (value_id, key_id) in FIELD_IDS.items():
            keys = [b for b in boxes if b.label == key_id]
            vals = [b for b in boxes if b.label == value_id]
            if not keys:
                continue
            assert vals, f"{name}: key {keys[0].text!r} rendered without a value"
            pairs_seen += 1
            # on the flat paper the value sits on the key's line or below it, never above
            key_top = keys[0].quad[:, 1].min()
            assert max(v.quad[:, 1].mean() for v in vals) > key_top, (name, keys[0].text)
    assert pairs_seen > N


def test_the_keys_vary_and_are_sometimes_absent(receipts):
    total_keys = {b.text for boxes in receipts for b in boxes if b.label == CLASS_ID["Total_key"]}
    without_tel_key = sum(not any(b.label == CLASS_ID["Tel_key"] for b in boxes) for boxes in receipts)
    assert len(total_keys) >= 4
    assert 0 < without_tel_key < N


def test_money_formats():
    us = {"symbol": "$", "sep": ".", "symbol_after": False, "symbol_on_prices": True}
    eu = {"symbol": "€", "sep": ",", "symbol_after": True, "symbol_on_prices": False}
    assert format_money(1250, us) == "$12.50"
    assert format_money(5, us, with_symbol=False) == "0.05"
    assert format_money(123456, eu) == "1234,56"
    assert format_money(123456, eu, with_symbol=True) == "1234,56 €"


def _strip_key(text: str, name: str) -> str:
    """A merged "Key value" run -> value (the key is one of the generator's key words)."""
    from service.tooling.synth.receipts.vocab import KEYS
    for key in sorted(KEYS[name], key=len, reverse=True):
        if text.startswith(key + " "):
            return text[len(key) + 1:]
    return text


def test_printed_dates_times_and_phones_are_well_formed(receipts):
    import datetime as dt
    date_formats = ("%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y", "%b %d, %Y", "%Y-%m-%d", "%a %m/%d/%Y",
                    "%d-%b-%Y", "%d/%m/%Y", "%d/%m/%y", "%d.%m.%Y", "%d.%m.%y", "%d %b %Y", "%d-%m-%Y")
    time_formats = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M:%S %p", "%I:%M%p")

    def parses(text: str, formats) -> bool:
        for f in formats:
            try:
                dt.datetime.strptime(text.title() if "%b" in f or "%a" in f else text, f)
                return True
            except ValueError:
                pass
        return False

    for boxes in receipts:
        for b in boxes:
            if b.label == CLASS_ID["Date_value"]:
                assert parses(_strip_key(b.text, "date"), date_formats), b.text
            elif b.label == CLASS_ID["Time_value"]:
                assert parses(_strip_key(b.text, "time"), time_formats), b.text
            elif b.label == CLASS_ID["Tel_value"]:
                assert 9 <= sum(c.isdigit() for c in _strip_key(b.text, "tel")) <= 13, b.text


def test_every_run_fits_on_the_paper():
    for i in range(40):
        rng = np.random.default_rng(1000 + i)
        paper, boxes = render_paper(layout_receipt(make_receipt(rng), rng), rng)
        h, w = paper.shape[:2]
        for b in boxes:
            assert b.quad[:, 0].min() >= 0 and b.quad[:, 0].max() <= w, b.text
            assert b.quad[:, 1].min() >= 0 and b.quad[:, 1].max() <= h, b.text


def test_a_run_too_wide_wraps_at_words_and_amounts_are_never_cut():
    from service.tooling.synth.receipts.fonts import available_faces, load_font
    from service.tooling.synth.receipts.layout import Cell
    from service.tooling.synth.receipts.render import PaperStyle, fit_line

    face = available_faces()[0]
    font = load_font(face.regular, 20)
    ps = PaperStyle(face=face, size=20, width=int(font.getlength("0") * 20) + 20, margin=10,
                    spacing=1.2, ink=0, paper=(255, 255, 255))
    rows = fit_line([Cell("Returns accepted within 30 days with receipt", 25, "center")], font, ps, 10)
    assert [r[0].text for r in rows] == ["Returns accepted", "within 30 days with", "receipt"]
    rows = fit_line([Cell("SUB-TOTAL", 18), Cell("$1234567.89", 17, "right"), Cell("12345678.00", 17, "right")],
                    font, ps, 10)
    texts = [c.text for r in rows for c in r]
    assert "$1234567.89" in texts and "12345678.00" in texts and "SUB-TOTAL" in texts


def test_weighed_goods_cost_weight_times_unit_price():
    from service.tooling.synth.receipts.items import make_items

    weighed = [it for i in range(300) for it in make_items(np.random.default_rng(i), "grocery") if it.weight]
    assert len(weighed) > 20
    for it in weighed:
        assert it.line_cents == round(float(it.weight.split()[0]) * it.unit_cents)
    for i in range(40):
        for it in make_items(np.random.default_rng(i), "retail"):
            assert not it.weight and it.line_cents == it.qty * it.unit_cents


def test_every_character_is_in_the_sdmgr_dictionary(receipts):
    # SDMG-R silently drops characters outside its dictionary (the space included, by design)
    from handlers.families.kie.text_encoding import SDMGR_CHARS

    used = {c for boxes in receipts for b in boxes for c in b.text}
    assert used - {" "} <= set(SDMGR_CHARS)
    assert {"$", "£", "€", "@", "%"} <= used
