"""The product lines of a receipt: names (often abbreviated), quantities, prices, savings."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import vocab

COUNT_CHOICES = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16)
COUNT_P = (.07, .12, .14, .14, .13, .12, .11, .08, .05, .04)
DISCOUNT_P = 0.15
WEIGHED_P = 0.15  # share of grocery lines sold by weight
WEIGHT_UNITS = ("lb", "kg")  # share of grocery/retail lines followed by a savings line
VOWELS = set("aeiouAEIOU")


@dataclass
class Item:
    """One product line: ``line_cents == qty * unit_cents`` (weighed goods: weight x unit price,
    rounded to the cent); ``discount_cents`` (>= 0) is taken
    off on a savings line printed under it."""
    name: str
    qty: int
    unit_cents: int
    line_cents: int
    discount_cents: int = 0
    discount_text: str = ""
    code: str = ""
    weight: str = ""  # "1.25 lb" for goods sold by weight (then qty is 1)


def abbreviate(name: str, rng: np.random.Generator) -> str:
    """'STRAWBERRIES' -> 'STRWBRRS', as narrow printers shorten product names."""
    words = []
    for word in name.split():
        if len(word) > 4 and rng.random() < 0.6:
            word = word[0] + "".join(c for c in word[1:] if c not in VOWELS)
            word = word[: int(rng.integers(3, 8))]
        words.append(word)
    return " ".join(words)


def _price(rng: np.random.Generator) -> int:
    """A shelf price in cents, log-uniform 0.59-39.99, ending in 9, 5 or 0 like real prices."""
    unit = int(np.round(np.exp(rng.uniform(np.log(59), np.log(3999)))))
    return unit - unit % 10 + int(rng.choice([9, 9, 5, 0]))


def _weigh(item: Item, rng: np.random.Generator) -> None:
    """Sell ``item`` by weight: 0.2-3 units at a per-unit price, the line price rounded to the cent."""
    grams = int(rng.integers(200, 3000)) if rng.random() < 0.5 else int(rng.integers(20, 300)) * 10
    amount = grams / 1000
    item.weight = f"{amount:.3f} {WEIGHT_UNITS[int(rng.integers(2))]}" if rng.random() < 0.4 else f"{amount:.2f} lb"
    amount = float(item.weight.split()[0])
    item.qty = 1
    item.line_cents = int(round(amount * item.unit_cents))


def make_items(rng: np.random.Generator, kind: str) -> list[Item]:
    """1-16 distinct products of the store's kind."""
    pool = vocab.ITEMS[kind]
    n = min(int(rng.choice(COUNT_CHOICES, p=COUNT_P)), len(pool))
    upper = rng.random() < 0.6
    short = kind != "restaurant" and rng.random() < 0.4
    codes = kind == "grocery" and rng.random() < 0.3
    out = []
    for i in rng.choice(len(pool), size=n, replace=False):
        name = pool[int(i)].upper() if upper else pool[int(i)]
        qty = int(rng.choice([1, 1, 1, 1, 2, 2, 3, 4, 6]))
        unit = _price(rng)
        item = Item(abbreviate(name, rng) if short else name, qty, unit, qty * unit)
        if kind == "grocery" and rng.random() < WEIGHED_P:
            _weigh(item, rng)
        if codes:
            item.code = str(int(rng.integers(3000, 99999)))
        if kind != "restaurant" and rng.random() < DISCOUNT_P:
            item.discount_cents = max(10, int(item.line_cents * float(rng.uniform(0.05, 0.3))) // 10 * 10)
            item.discount_text = str(rng.choice(vocab.SAVINGS))
        out.append(item)
    return out
