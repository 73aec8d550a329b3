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

#: rows of the IoU matrix computed at once (1024 x 5000 float32 = 20 MB per temporary)
_BLOCK = 1024


def box_iou_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of every (M, 4) box in ``a`` with every (K, 4) box in ``b`` -> (M, K)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the kept boxes, by decreasing score.

    The pairwise IoUs are computed at once (in row blocks, to bound memory); only the greedy
    walk, which is sequential by nature, is a loop, over numpy rows of booleans."""
    order = torch.argsort(scores, descending=True, stable=True)
    boxes = boxes[order]
    n = len(order)
    # ~(iou <= thr) rather than iou > thr: a NaN IoU (two empty boxes) suppresses, as it always has
    over = np.zeros((n, n), bool)
    for s in range(0, n, _BLOCK):
        over[s:s + _BLOCK] = (~(box_iou_matrix(boxes[s:s + _BLOCK], boxes) <= iou_threshold)).cpu().numpy()
    removed = np.zeros(n, bool)
    keep = []
    for i in range(n):
        if not removed[i]:
            keep.append(i)
            removed |= over[i]
    return order[torch.as_tensor(keep, dtype=torch.long, device=boxes.device)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor,
                iou_threshold: float) -> torch.Tensor:
    """NMS within each category `idxs`; kept indices by decreasing score."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)
