"""The DB loss (the DB paper; the terms and weights of MMOCR's DBModuleLoss).

    loss = 5 * balanced BCE(probability map)      positives : hardest negatives = 1 : 3 (OHEM)
         + 10 * L1(threshold map)                 inside the dilated polygons only
         + 1 * dice(approximate binary map)       B = 1 / (1 + exp(-k (P - T))), k = 50

The probability map P arrives after its sigmoid (the inference graph ends with it), so the BCE is
taken on P clamped away from 0 and 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

EPS = 1e-6


def balanced_bce(prob: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, neg_ratio: float = 3.0) -> torch.Tensor:
    """BCE over every positive pixel and the neg_ratio x as many hardest negatives."""
    positive = gt * mask
    negative = (1 - gt) * mask
    n_pos = int(positive.sum().item())
    n_neg = min(int(negative.sum().item()), int(n_pos * neg_ratio)) if n_pos else min(int(negative.sum().item()), 100)
    loss = F.binary_cross_entropy(prob.clamp(EPS, 1 - EPS), gt, reduction="none")
    pos_loss = (loss * positive).sum()
    neg_loss = (loss * negative).flatten()
    if n_neg < neg_loss.numel():
        neg_loss = neg_loss.topk(n_neg).values
    return (pos_loss + neg_loss.sum()) / (n_pos + n_neg + EPS)


def masked_l1(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return ((pred - gt).abs() * mask).sum() / (mask.sum() + EPS)


def dice_loss(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    inter = (pred * gt * mask).sum()
    union = (pred * mask).sum() + (gt * mask).sum() + EPS
    return 1 - 2 * inter / union


@dataclass(frozen=True)
class DBLossWeights:
    prob: float = 5.0
    thr: float = 10.0
    binary: float = 1.0
    k: float = 50.0
    neg_ratio: float = 3.0


def db_loss(prob: torch.Tensor, thr: torch.Tensor, targets: dict[str, torch.Tensor],
            weights: DBLossWeights = DBLossWeights()) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts; prob and thr are (B, 1, H, W) or (B, H, W), targets (B, H, W)."""
    prob = prob.reshape(targets["shrink"].shape)
    thr = thr.reshape(targets["shrink"].shape)
    binary = torch.sigmoid(weights.k * (prob - thr))
    l_prob = balanced_bce(prob, targets["shrink"], targets["shrink_mask"], weights.neg_ratio)
    l_thr = masked_l1(thr, targets["thr"], targets["thr_mask"])
    l_bin = dice_loss(binary, targets["shrink"], targets["shrink_mask"])
    total = weights.prob * l_prob + weights.thr * l_thr + weights.binary * l_bin
    return total, {"prob": l_prob.item(), "thr": l_thr.item(), "binary": l_bin.item()}
