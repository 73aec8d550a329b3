"""SDMG-R training loss (MMOCR 1.x ``SDMGRModuleLoss`` semantics).

loss = w_node * CE(node logits, node labels; ignore_index=ignore_idx)
     + w_edge * CE(edge logits, edge targets; ignore_index=-1).
The WildReceipt configs keep the default ``ignore_idx=-100``: no node class is left out of the
loss (class 0 "Ignore" is learnt like any other); only the diagonal edges (-1) are ignored.
Both cross-entropies average over the valid entries of the whole batch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def sdmgr_loss(node_logits: torch.Tensor, edge_logits: torch.Tensor, node_targets: torch.Tensor,
               edge_targets: torch.Tensor, ignore_idx: int = -100, weight_node: float = 1.0,
               weight_edge: float = 1.0, class_weight: torch.Tensor | None = None,
               label_smoothing: float = 0.0) -> dict[str, torch.Tensor]:
    """Returns ``loss`` (the sum to minimise), ``loss_node``, ``loss_edge``, ``acc_node``, ``acc_edge``
    (accuracies in percent over the valid entries, detached). ``class_weight`` (one per node
    class, None: all 1 as in MMOCR) weighs the node cross-entropy (a weighted mean);
    ``label_smoothing`` (0: off, as MMOCR) smooths the node targets (torch's definition)."""
    loss_node = weight_node * F.cross_entropy(node_logits, node_targets, weight=class_weight,
                                              ignore_index=ignore_idx, label_smoothing=label_smoothing)
    loss_edge = weight_edge * F.cross_entropy(edge_logits, edge_targets, ignore_index=-1)
    return dict(loss=loss_node + loss_edge, loss_node=loss_node, loss_edge=loss_edge,
                acc_node=_accuracy(node_logits, node_targets, ignore_idx),
                acc_edge=_accuracy(edge_logits, edge_targets, -1))


def _accuracy(logits: torch.Tensor, targets: torch.Tensor, ignore: int) -> torch.Tensor:
    valid = targets != ignore
    if not valid.any():
        return logits.new_tensor(0.0)
    hits = (logits.detach()[valid].argmax(-1) == targets[valid]).float()
    return hits.mean() * 100
