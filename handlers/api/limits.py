"""Limits both sides must agree on (numbers only)."""
from __future__ import annotations

#: Characters of one text the NER model reads: BERT's 128 positions less [CLS] and [SEP]. The
#: gateway cuts longer OCR lines into pieces of this size (service/gateway/ner_lines.py).
NER_MAX_CHARS = 126
