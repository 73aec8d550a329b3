"""Greedy non-maximum suppression over axis-aligned boxes, in torch + numpy (no torchvision).

What mmcv's ``nms`` op computes: boxes (x1, y1, x2, y2) sorted by score, highest first;
a box is dropped when its IoU with an already kept box is strictly greater than
``iou_threshold``; areas are ``(x2 - x1) * (y2 - y1)`` (no +1). ``batched_nms`` runs it
per category with mmcv's trick of offsetting each category's boxes by
``idx * (max coordinate + 1)`` so that boxes of different categories never overlap.
"""
from __future__ import annotations

import numpy as np
import torch

#: boxes decided per step: each block meets the boxes kept so far in one IoU matrix
_BLOCK = 256


def box_iou_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of every (M, 4) box in ``a`` with every (K, 4) box in ``b`` -> (M, K)."""
    ax1, ay1, ax2, ay2 = (a[:, k, None] for k in range(4))
    bx1, by1, bx2, by2 = b.T
    inter = ((torch.minimum(ax2, bx2) - torch.maximum(ax1, bx1)).clamp(min=0)
             * (torch.minimum(ay2, by2) - torch.maximum(ay1, by1)).clamp(min=0))
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def _overlaps(a: torch.Tensor, b: torch.Tensor, iou_threshold: float) -> np.ndarray:
    # ~(iou <= thr) rather than iou > thr: a NaN IoU (two empty boxes) suppresses, as it always has
    return (~(box_iou_matrix(a, b) <= iou_threshold)).cpu().numpy()


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the kept boxes, by decreasing score.

    Boxes are decided a block at a time, in score order: one IoU matrix drops the block's boxes
    that overlap a box kept earlier, then a walk over the block's own (B, B) overlaps settles
    the rest greedily. The work is about n x kept IoUs, not n x n, and no per-box torch call."""
    order = torch.argsort(scores, descending=True, stable=True)
    boxes = boxes[order]
    keep: list[int] = []
    for s in range(0, len(order), _BLOCK):
        block = boxes[s:s + _BLOCK]
        alive = np.ones(len(block), bool)
        if keep:
            alive &= ~_overlaps(block, boxes[keep], iou_threshold).any(axis=1)
        inner = _overlaps(block, block, iou_threshold)
        for i in range(len(block)):
            if alive[i]:
                keep.append(s + i)
                alive &= ~inner[i]  # only the later boxes of the block are still read
    return order[torch.as_tensor(keep, dtype=torch.long, device=boxes.device)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor,
                iou_threshold: float) -> torch.Tensor:
    """NMS within each category `idxs`; kept indices by decreasing score."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)
