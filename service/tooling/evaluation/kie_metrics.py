"""KIE node-classification F1, as MMOCR 1.x's ``F1Metric`` (key ``labels``) computes it.

Predictions and ground truths of all images are concatenated. Only the *cared* labels
count: ``cared_classes`` if given, else every class of ``range(num_classes)`` not in
``ignored_classes`` (the WildReceipt configs ignore the even classes and 25). For each
cared label ``c``: tp = #(pred == gt == c), fp = #(pred == c != gt), fn = #(gt == c != pred).
F1 = 2PR / (P + R) with every denominator clamped at 1e-8; ``macro`` averages the per-label
F1 (labels absent from both sides count as 0), ``micro`` pools tp/fp/fn first. Arithmetic is
float32 like the original, so results match it to the last bit.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import torch

WILDRECEIPT_IGNORED_CLASSES = (0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 25)
_EPS = 1e-8


def cared_labels(num_classes: int, cared_classes: Sequence[int] = (),
                 ignored_classes: Sequence[int] = ()) -> list[int]:
    if cared_classes and ignored_classes:
        raise ValueError("give cared_classes or ignored_classes, not both")
    if cared_classes:
        if min(cared_classes) < 0 or max(cared_classes) >= num_classes:
            raise ValueError("cared_classes out of range(num_classes)")
        return sorted(set(int(c) for c in cared_classes))
    if ignored_classes:
        if min(ignored_classes) < 0 or max(ignored_classes) >= num_classes:
            raise ValueError("ignored_classes out of range(num_classes)")
        return sorted(set(range(num_classes)) - set(int(c) for c in ignored_classes))
    return list(range(num_classes))


def _f1(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> float:
    precision = tp / (tp + fp).clamp(min=_EPS)
    recall = tp / (tp + fn).clamp(min=_EPS)
    f1 = 2 * precision * recall / (precision + recall).clamp(min=_EPS)
    return float(f1.mean())


def kie_f1(pred_labels: Iterable[Sequence[int]], gt_labels: Iterable[Sequence[int]],
           num_classes: int, mode: str | Sequence[str] = "micro",
           cared_classes: Sequence[int] = (), ignored_classes: Sequence[int] = ()) -> dict[str, float]:
    """F1 over a dataset; ``pred_labels`` / ``gt_labels`` hold one label list per image.

    Returns ``{'macro_f1': ..}`` and/or ``{'micro_f1': ..}`` according to ``mode``.
    """
    modes = [mode] if isinstance(mode, str) else list(mode)
    if not modes or any(m not in ("micro", "macro") for m in modes):
        raise ValueError(f"mode must be 'micro', 'macro' or both, got {mode!r}")
    preds_l = [list(p) for p in pred_labels]
    gts_l = [list(g) for g in gt_labels]
    if len(preds_l) != len(gts_l) or any(len(p) != len(g) for p, g in zip(preds_l, gts_l)):
        raise ValueError("pred_labels and gt_labels differ in shape")
    preds = torch.tensor([x for p in preds_l for x in p], dtype=torch.long)
    gts = torch.tensor([x for g in gts_l for x in g], dtype=torch.long)
    labels = torch.tensor(cared_labels(num_classes, cared_classes, ignored_classes), dtype=torch.long)

    hit = (preds == gts)[None, :]
    is_pred = labels[:, None] == preds[None, :]
    is_gt = labels[:, None] == gts[None, :]
    tp = (hit & is_pred).float()
    fp = (~hit & is_pred).float()
    fn = (~hit & is_gt).float()
    out: dict[str, float] = {}
    if "macro" in modes:
        out["macro_f1"] = _f1(tp.sum(-1), fp.sum(-1), fn.sum(-1))
    if "micro" in modes:
        out["micro_f1"] = _f1(tp.sum(), fp.sum(), fn.sum())
    return out
