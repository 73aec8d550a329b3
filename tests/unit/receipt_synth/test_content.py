"""What the receipts say: totals add up in the printed text, keys come with their values."""
from __future__ import annotations

import re

import numpy as np
import pytest

from service.receipt_synth.content import format_money, make_receipt
from service.receipt_synth.labels import CLASS_ID, FIELD_IDS
from service.receipt_synth.layout import layout_receipt
from service.receipt_synth.render import render_paper

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
