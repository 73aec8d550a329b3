"""KIE and NER ground truth: WildReceipt close-set / open-set, CLUENER json-lines; NER P/R/F1.

WildReceipt reading is service.tooling.training.kie.dataset's (one reader for training and evaluation);
CLUENER reading is service.tooling.training.ner.data's (likewise); this module adds the class lists and
the entity-level NER metric.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from service.tooling.training.ner.data import Entity

#: MMOCR's open-set WildReceipt labels (service/tooling/training/kie/openset.py), by id.
OPENSET_CLASSES = ("bg", "key", "value", "others")
#: MMOCR scores open-set node labels on keys and values only.
OPENSET_IGNORED = (0, 3)


def class_list_for(annotations: Path, explicit: Path | None = None) -> list[str]:
    """Class names: `explicit`, else class_list.txt beside the annotations (`<id> <name>` or bare names)."""
    path = explicit or annotations.parent / "class_list.txt"
    if not path.is_file():
        raise FileNotFoundError(f"no class list at {path} (pass --class-list)")
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts:
            names.append(parts[-1])  # `<id> <name>` (MMOCR) or `<name>` (wildreceipt_subset)
    return names


def read_wildreceipt(path: Path, openset: bool = False):
    """KIEDocuments of a WildReceipt annotation file (close-set labels, or open-set with edges)."""
    from service.tooling.training.kie.dataset import read_annotations

    num_classes = len(OPENSET_CLASSES) if openset else None
    return read_annotations(path, path.parent, num_classes=num_classes)


def ner_prf(preds: Iterable[Iterable[Entity]], gts: Iterable[Iterable[Entity]]) -> dict:
    """Entity-level P/R/F1 (exact type and span), overall and per type, as MMOCR 0.x's NER metric
    counts: the one metric of the NER family (service/tooling/evaluation/ner_metrics.py) as a report dict.

    Each of `preds` / `gts` holds one collection of (type, start, end) per text.
    """
    from service.tooling.evaluation.ner_metrics import entity_prf

    report = entity_prf([list(g) for g in gts], [list(p) for p in preds]).to_json()
    return {**report, "entities": report["gold"]}


def entities_from_response(entities: Sequence[dict]) -> set[Entity]:
    """(type, start, end-inclusive) of a /ner response's entities ({type, start, end} with end exclusive)."""
    return {(e["type"], int(e["start"]), int(e["end"]) - 1) for e in entities}
