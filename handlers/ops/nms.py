"""Greedy non-maximum suppression over axis-aligned boxes, in torch (no torchvision).

What mmcv's ``nms`` op computes: boxes (x1, y1, x2, y2) sorted by score, highest first;
a box is dropped when its IoU with an already kept box is strictly greater than
``iou_threshold``; areas are ``(x2 - x1) * (y2 - y1)`` (no +1). ``batched_nms`` runs it
per category with mmcv's trick of offsetting each category's boxes by
``idx * (max coordinate + 1)`` so that boxes of different categories never overlap.
"""
from __future__ import annotations

import torch


def box_iou(box: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """IoU of one (4,) box with (K, 4) boxes -> (K,)."""
    xx1 = torch.maximum(box[0], boxes[:, 0])
    yy1 = torch.maximum(box[1], boxes[:, 1])
    xx2 = torch.minimum(box[2], boxes[:, 2])
    yy2 = torch.minimum(box[3], boxes[:, 3])
    inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / (area + areas - inter)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the kept boxes, by decreasing score."""
    order = torch.argsort(scores, descending=True, stable=True)
    boxes = boxes[order]
    alive = torch.ones(len(order), dtype=torch.bool, device=boxes.device)
    keep = []
    for i in range(len(order)):
        if not alive[i]:
            continue
        keep.append(i)
        rest = slice(i + 1, None)
        alive[rest] &= box_iou(boxes[i], boxes[rest]) <= iou_threshold
    return order[torch.as_tensor(keep, dtype=torch.long, device=boxes.device)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor,
                iou_threshold: float) -> torch.Tensor:
    """NMS within each category `idxs`; kept indices by decreasing score."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)
