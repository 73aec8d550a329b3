"""Training-time noise for KIE receipts (none by default).

* ``box_jitter``: every box edge moves by a normal offset of ``box_jitter`` times the box height
  (the layout of a receipt read by another detector, or annotated by another hand);
* ``text_noise``: each text gets, with this probability, one OCR-like edit (a character dropped,
  replaced by another dictionary character, or doubled): transcripts as OCR reads them;
* ``swap_texts``: each box of a key or value class (named ``*_key`` / ``*_value``, WildReceipt's
  convention) takes, with this probability, the text of a box of the same class on another
  training receipt (of a similar length: its box was drawn for its own text), so that a few
  hundred receipts stop teaching their store names, addresses and items by heart. Amounts (a
  decimal separator then two digits) are never swapped in or out: which amount is the total, the
  subtotal or the tax is read from their sizes on the one receipt; nor are the other classes'
  texts (``Others``: `CHANGE`, `VISA` are what make the amount beside them not a total).

A fresh copy of the receipt is returned; the labels and edge ids are unchanged. The draws come
from the ``numpy`` generator passed in, so a seeded run gives the same receipts.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Mapping, Sequence

import numpy as np

from service.tooling.training.kie.dataset import KIEDocument

# Looser than handlers/ops/amounts.AMOUNT on purpose: `.74` (a tax as WildReceipt receipts print it)
# counts, and so does a date like 01.02.24; a swap must never move an amount, and keeping a date costs nothing.
_AMOUNT = re.compile(r"[.,]\d\d(?!\d)")
SWAP_LENGTH = (2 / 3, 3 / 2)  # a swapped-in text's length over the original's
SWAP_DRAWS = 8  # candidates drawn per box before the original text is kept


def is_amount(text: str) -> bool:
    return _AMOUNT.search(text) is not None


def text_pools(docs: Sequence[KIEDocument], classes: Sequence[str]) -> dict[int, list[str]]:
    """Per key or value label, the training receipts' texts that ``swap_texts`` may swap in
    (amounts and empty texts left out)."""
    swappable = {i for i, name in enumerate(classes) if name.endswith(("_key", "_value"))}
    pools: dict[int, list[str]] = {}
    for doc in docs:
        for text, label in zip(doc.texts, doc.labels.tolist()):
            if label in swappable and text and not is_amount(text):
                pools.setdefault(label, []).append(text)
    return pools


def jitter_boxes(boxes: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """(N, 4) int32 x1y1x2y2 with each edge moved by N(0, scale * height); stays ordered, >= 0."""
    boxes = boxes.astype(np.float64)
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    moved = boxes + rng.normal(0.0, 1.0, boxes.shape) * (scale * h)[:, None]
    x1, x2 = np.minimum(moved[:, 0], moved[:, 2]), np.maximum(moved[:, 0], moved[:, 2])
    y1, y2 = np.minimum(moved[:, 1], moved[:, 3]), np.maximum(moved[:, 1], moved[:, 3])
    return np.clip(np.round(np.stack([x1, y1, x2, y2], 1)), 0, None).astype(np.int32)


def noisy_text(text: str, chars: Sequence[str], rng: np.random.Generator) -> str:
    """``text`` with one random edit: drop, replace or double a character (unchanged if empty)."""
    if not text:
        return text
    pos = int(rng.integers(len(text)))
    kind = int(rng.integers(3))
    if kind == 0 and len(text) > 1:
        return text[:pos] + text[pos + 1:]
    if kind == 1:
        return text[:pos] + chars[int(rng.integers(len(chars)))] + text[pos + 1:]
    return text[:pos + 1] + text[pos:]


def swapped_text(text: str, pool: Sequence[str], rng: np.random.Generator) -> str:
    """A random text of ``pool`` whose length is within SWAP_LENGTH of ``text``'s (``text``
    itself when none of SWAP_DRAWS draws is)."""
    low, high = SWAP_LENGTH[0] * len(text), SWAP_LENGTH[1] * len(text)
    for i in rng.integers(len(pool), size=SWAP_DRAWS):
        if low <= len(pool[i]) <= high:
            return pool[i]
    return text


def swap_texts(doc: KIEDocument, pools: Mapping[int, Sequence[str]], share: float,
               rng: np.random.Generator) -> list[str]:
    """``doc``'s texts, each labelled non-amount one swapped with probability ``share``."""
    hit = rng.random(len(doc.texts)) < share
    return [swapped_text(t, pools[lab], rng) if h and lab in pools and t and not is_amount(t) else t
            for t, lab, h in zip(doc.texts, doc.labels.tolist(), hit)]


def augment(doc: KIEDocument, rng: np.random.Generator, box_jitter: float = 0.0,
            text_noise: float = 0.0, chars: Sequence[str] = (), swap: float = 0.0,
            pools: Mapping[int, Sequence[str]] | None = None) -> KIEDocument:
    """A noisy copy of ``doc`` (``doc`` itself when every amount is 0)."""
    swap = swap if pools else 0.0
    if box_jitter <= 0 and text_noise <= 0 and swap <= 0:
        return doc
    boxes = jitter_boxes(doc.boxes, box_jitter, rng) if box_jitter > 0 else doc.boxes
    texts = swap_texts(doc, pools, swap, rng) if swap > 0 else list(doc.texts)
    if text_noise > 0 and chars:
        hit = rng.random(len(texts)) < text_noise
        texts = [noisy_text(t, chars, rng) if h else t for t, h in zip(texts, hit)]
    return dataclasses.replace(doc, boxes=boxes, texts=texts)
