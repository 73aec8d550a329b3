"""Entity-level precision / recall / F1 (the CLUENER / MMOCR ``eval_ner_f1`` convention): an
entity counts only when its type, start and end all match a gold one. Pure; reusable by
``ocrserve eval --task ner``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Iterable, Sequence

Span = tuple[str, int, int]  # (type, start, end) with any consistent end convention


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float
    true_positives: int
    predicted: int
    gold: int
    per_type: dict[str, "PRF"] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {"precision": self.precision, "recall": self.recall, "f1": self.f1,
               "true_positives": self.true_positives, "predicted": self.predicted, "gold": self.gold}
        if self.per_type:
            out["per_type"] = {k: v.to_json() for k, v in self.per_type.items()}
        return out


def _prf(tp: int, n_pred: int, n_gold: int) -> PRF:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return PRF(p, r, 2 * p * r / (p + r) if p + r else 0.0, tp, n_pred, n_gold)


def entity_prf(gold: Iterable[Sequence[Span]], predicted: Iterable[Sequence[Span]]) -> PRF:
    """Micro P/R/F1 over texts (one span list per text, same order) plus per-type figures.
    Repeated identical spans in one text count once."""
    counts: dict[Hashable, list[int]] = {}
    total = [0, 0, 0]
    for gold_spans, pred_spans in zip(gold, predicted, strict=True):
        g, p = set(map(tuple, gold_spans)), set(map(tuple, pred_spans))
        for kind, spans in ((1, p), (2, g)):
            for span in spans:
                counts.setdefault(span[0], [0, 0, 0])[kind] += 1
                total[kind] += 1
        for span in g & p:
            counts[span[0]][0] += 1
            total[0] += 1
    per_type = {k: _prf(*v) for k, v in sorted(counts.items())}
    overall = _prf(*total)
    return PRF(overall.precision, overall.recall, overall.f1, *total, per_type=per_type)
