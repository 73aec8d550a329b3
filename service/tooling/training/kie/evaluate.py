"""Node-classification F1 of an SDMG-R model on WildReceipt-format data with ground-truth boxes
and texts: MMOCR's macro-F1 (``handlers/families/kie/metrics.kie_f1``) plus per-class figures."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from service.tooling.evaluation.kie_metrics import WILDRECEIPT_IGNORED_CLASSES, cared_labels, kie_f1
from handlers.families.kie.sdmgr import SDMGR
from service.tooling.training.kie.dataset import UNLABELLED, KIEDocument, make_batch

WILDRECEIPT_CLASSES = (
    "Ignore", "Store_name_value", "Store_name_key", "Store_addr_value", "Store_addr_key",
    "Tel_value", "Tel_key", "Date_value", "Date_key", "Time_value", "Time_key",
    "Prod_item_value", "Prod_item_key", "Prod_quantity_value", "Prod_quantity_key",
    "Prod_price_value", "Prod_price_key", "Subtotal_value", "Subtotal_key", "Tax_value",
    "Tax_key", "Tips_value", "Tips_key", "Total_value", "Total_key", "Others")


def ignored_classes_for(classes: Sequence[str]) -> tuple[int, ...]:
    """The WildReceipt macro setting (keys, Ignore and Others left out) for the WildReceipt class
    list; no class is left out for any other list."""
    return WILDRECEIPT_IGNORED_CLASSES if tuple(classes) == WILDRECEIPT_CLASSES else ()


@torch.no_grad()
def predict_labels(model: SDMGR, docs: Sequence[KIEDocument], batch_size: int = 8) -> list[list[int]]:
    """Arg-max node class of every box, one list per receipt."""
    model.eval()
    out: list[list[int]] = []
    for start in range(0, len(docs), batch_size):
        chunk = docs[start:start + batch_size]
        batch = make_batch(chunk, with_image=model.with_backbone)
        for pred in model.predict(batch.img, batch.boxes, batch.texts):
            out.append(pred["labels"].tolist())
    return out


def per_class_scores(preds: Sequence[Sequence[int]], gts: Sequence[Sequence[int]],
                     classes: Sequence[str]) -> dict[str, dict[str, float]]:
    """precision / recall / F1 / support (number of true boxes) of every class."""
    p = np.array([x for row in preds for x in row], dtype=np.int64)
    g = np.array([x for row in gts for x in row], dtype=np.int64)
    out = {}
    for c, name in enumerate(classes):
        tp = float(((p == c) & (g == c)).sum())
        prec = tp / max(float((p == c).sum()), 1e-8)
        rec = tp / max(float((g == c).sum()), 1e-8)
        f1 = 2 * prec * rec / max(prec + rec, 1e-8)
        out[name] = dict(precision=prec, recall=rec, f1=f1, support=int((g == c).sum()))
    return out


def evaluate(model: SDMGR, docs: Sequence[KIEDocument], classes: Sequence[str]) -> dict:
    """``macro_f1`` (MMOCR semantics, WildReceipt ignored classes when the list is WildReceipt's),
    ``micro_f1`` over the same cared classes, ``cared`` class names and ``per_class`` scores."""
    preds, gts = [], []
    for pred, doc in zip(predict_labels(model, docs), docs):  # unlabelled boxes are not scored
        keep = doc.labels != UNLABELLED
        preds.append([p for p, k in zip(pred, keep) if k])
        gts.append(doc.labels[keep].tolist())
    ignored = ignored_classes_for(classes)
    f1 = kie_f1(preds, gts, len(classes), mode=["macro", "micro"], ignored_classes=ignored)
    cared = [classes[c] for c in cared_labels(len(classes), ignored_classes=ignored)]
    return dict(**f1, cared=cared, per_class=per_class_scores(preds, gts, classes),
                receipts=len(docs), boxes=sum(len(g) for g in gts))


def format_report(report: dict, show: Sequence[str] | None = None) -> str:
    """Readable table: the F1 figures, then per-class rows (``show`` or the cared classes)."""
    lines = [f"receipts {report['receipts']}  boxes {report['boxes']}  "
             f"macro-F1 {report['macro_f1']:.4f}  micro-F1 {report['micro_f1']:.4f} "
             f"(over {len(report['cared'])} classes)",
             f"{'class':<22}{'F1':>8}{'prec':>8}{'recall':>8}{'support':>9}"]
    for name in show or report["cared"]:
        s = report["per_class"][name]
        lines.append(f"{name:<22}{s['f1']:>8.4f}{s['precision']:>8.4f}{s['recall']:>8.4f}{s['support']:>9d}")
    return "\n".join(lines)
