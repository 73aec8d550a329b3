"""Training-time noise for KIE receipts (none by default).

* ``box_jitter``: every box edge moves by a normal offset of ``box_jitter`` times the box height
  (the layout of a receipt read by another detector, or annotated by another hand);
* ``text_noise``: each text gets, with this probability, one OCR-like edit (a character dropped,
  replaced by another dictionary character, or doubled): transcripts as OCR reads them.

A fresh copy of the receipt is returned; the labels and edge ids are unchanged. The draws come
from the ``numpy`` generator passed in, so a seeded run gives the same receipts.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from service.tooling.training.kie.dataset import KIEDocument


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


def augment(doc: KIEDocument, rng: np.random.Generator, box_jitter: float = 0.0,
            text_noise: float = 0.0, chars: Sequence[str] = ()) -> KIEDocument:
    """A noisy copy of ``doc`` (``doc`` itself when both amounts are 0)."""
    if box_jitter <= 0 and text_noise <= 0:
        return doc
    boxes = jitter_boxes(doc.boxes, box_jitter, rng) if box_jitter > 0 else doc.boxes
    texts = list(doc.texts)
    if text_noise > 0 and chars:
        hit = rng.random(len(texts)) < text_noise
        texts = [noisy_text(t, chars, rng) if h else t for t, h in zip(texts, hit)]
    return dataclasses.replace(doc, boxes=boxes, texts=texts)
