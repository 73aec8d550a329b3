"""A second look at SDMG-R's labels: a small network over each box's class probabilities, its
neighbours' and a few facts about the receipt the graph network cannot compute (which amount is
the largest, which box is the most total-like), trained on SDMG-R's outputs for receipts it never
saw (bench/kie_context.py). Optional: a zoo entry turns it on by naming a `context` file.

Why: with 279 real receipts to learn from, SDMG-R mixes up the amounts at the bottom of a receipt
(a total labelled Others, a subtotal labelled total, two totals on one receipt). Stacked on its
out-of-fold outputs, this network labels the total far more often on annotated boxes, but it does
not raise the macro-F1 of held-out receipts and it loses on `/ocr` line boxes: no zoo model carries
one (figures in bench/RESULTS-kie-real.md, "Context network"; docs/kie.md).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from handlers.ops.amounts import AMOUNT

#: the probability a missing neighbour's classes get (so log-probabilities stay finite)
FLOOR = 1e-6
#: the features of one box: own, left, right, upper and lower neighbour log-probabilities
#: (5 x C), amount (7), geometry (7), text (7), per value class the box's rank and relative
#: probability among the receipt's boxes (2 x V)
AMOUNT_FEATURES, GEOMETRY_FEATURES, TEXT_FEATURES = 7, 7, 7


def feature_count(num_classes: int, num_values: int) -> int:
    return 5 * num_classes + AMOUNT_FEATURES + GEOMETRY_FEATURES + TEXT_FEATURES + 2 * num_values


def amount_value(text: str) -> float | None:
    """The first amount of money printed in `text` (handlers/ops/amounts.py), or None."""
    match = AMOUNT.search(text)
    if match is None:
        return None
    return float(re.sub(r"\D", "", match.group(0))) / 100.0


def _nearest(centre: np.ndarray, linked: np.ndarray, before: bool) -> np.ndarray:
    """For each box, the linked box nearest before (or after) it along `centre`, or -1."""
    out = np.full(len(centre), -1)
    for i in range(len(centre)):
        side = linked[i] & ((centre < centre[i]) if before else (centre > centre[i]))
        candidates = np.flatnonzero(side)
        if len(candidates):
            out[i] = candidates[np.argmax(centre[candidates]) if before else np.argmin(centre[candidates])]
    return out


def neighbours(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Left, right, upper and lower neighbour of every box (x1y1x2y2), -1 where none: the nearest
    box on its line (heights overlapping by half the lower one) on either side, and the nearest in
    its column (widths overlapping by 0.3 of the narrower) above and below."""
    x1, y1, x2, y2 = boxes.T
    heights, widths = np.maximum(y2 - y1, 1), np.maximum(x2 - x1, 1)
    rows = (np.minimum(y2[:, None], y2[None]) - np.maximum(y1[:, None], y1[None])
            >= 0.5 * np.minimum(heights[:, None], heights[None]))
    columns = (np.minimum(x2[:, None], x2[None]) - np.maximum(x1[:, None], x1[None])
               >= 0.3 * np.minimum(widths[:, None], widths[None]))
    np.fill_diagonal(rows, False)
    np.fill_diagonal(columns, False)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return _nearest(cx, rows, True), _nearest(cx, rows, False), _nearest(cy, columns, True), _nearest(cy, columns, False)


def context_features(prob: np.ndarray, boxes: np.ndarray, texts: Sequence[str], size: tuple[int, int],
                     value_classes: Sequence[int]) -> np.ndarray:
    """(N, feature_count) float32 features of a receipt's N boxes from SDMG-R's class
    probabilities `prob` (N, C), the boxes (x1y1x2y2, pixels of a `size` = (height, width) page)
    and their texts; `value_classes` are the ids ranked per receipt (the `*_value` classes)."""
    n, num_classes = prob.shape
    height, width = size
    logp = np.log(np.clip(prob, FLOOR, 1.0))
    padded = np.vstack([logp, np.full((1, num_classes), np.log(FLOOR))])  # row -1: no neighbour
    left, right, up, down = neighbours(boxes)
    values = [amount_value(t) for t in texts]
    amounts = sorted((v for v in values if v is not None), reverse=True)
    centre_y = (boxes[:, 1] + boxes[:, 3]) / 2
    amount_y = np.array([centre_y[i] for i, v in enumerate(values) if v is not None])
    rows = []
    for i, (text, value) in enumerate(zip(texts, values)):
        if value is None:
            amount = [0, 0, 1, 0, 0, 0, 0]
        else:
            rank = amounts.index(value)
            amount = [1, np.log1p(value), rank / len(amounts), float(rank == 0), amounts.count(value) - 1,
                      float((amount_y < centre_y[i]).sum()) / len(amounts), value / max(amounts[0], 1e-6)]
        geometry = [boxes[i, 0] / width, boxes[i, 1] / height, boxes[i, 2] / width, boxes[i, 3] / height,
                    centre_y[i] / height, float(left[i] >= 0), float(right[i] >= 0)]
        length = max(1, len(text))
        kind = [len(text), sum(c.isdigit() for c in text) / length, sum(c.isalpha() for c in text) / length,
                float("%" in text), float(":" in text), len(amounts), n]
        rows.append(amount + geometry + kind)
    ranked = prob[:, list(value_classes)]
    order = np.minimum((-ranked).argsort(0, kind="stable").argsort(0), 5)
    share = ranked / np.maximum(ranked.max(0, keepdims=True), FLOOR)
    return np.hstack([logp, padded[left], padded[right], np.array(rows, dtype=np.float64), order, share,
                      padded[up], padded[down]]).astype(np.float32)


def build_context_network(num_features: int, num_classes: int, hidden: int = 64, dropout: float = 0.2):
    """Standardisation (buffers `mean`, `std`) + one hidden ReLU layer: logits over the classes."""
    import torch

    class ContextNetwork(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(num_features))
            self.register_buffer("std", torch.ones(num_features))
            self.layers = torch.nn.Sequential(torch.nn.Linear(num_features, hidden), torch.nn.ReLU(),
                                              torch.nn.Dropout(dropout), torch.nn.Linear(hidden, num_classes))

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            return self.layers((features - self.mean) / self.std)

    return ContextNetwork().eval()


def value_class_ids(class_names: Sequence[str]) -> list[int]:
    return [i for i, name in enumerate(class_names) if name.endswith("_value")]


class ContextRelabeller:
    """Relabels a receipt's boxes from SDMG-R's probabilities (see the module's doc)."""

    def __init__(self, path: Path, class_names: Sequence[str]):
        import torch

        self.values = value_class_ids(class_names)
        self.num_features = feature_count(len(class_names), len(self.values))
        self.network = build_context_network(self.num_features, len(class_names))
        try:
            state = torch.load(Path(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # not a torch file, or one holding more than tensors
            raise ValueError(f"the context file {Path(path).name} is not a saved state dict: {exc}") from None
        try:
            self.network.load_state_dict(state, strict=True)
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise ValueError(f"the context file does not fit {len(class_names)} classes ({self.num_features} "
                             f"features, 64 hidden units; bench/kie_context.py --write makes one): {exc}") from None

    def __call__(self, prob: np.ndarray, boxes: np.ndarray, texts: Sequence[str], size: tuple[int, int]) -> np.ndarray:
        """(N, C) class probabilities after the second look."""
        import torch

        features = torch.from_numpy(context_features(prob, boxes, texts, size, self.values))
        with torch.inference_mode():
            return torch.softmax(self.network(features), -1).numpy()


def train_context_network(features: Sequence[np.ndarray], labels: Sequence[np.ndarray], num_classes: int,
                          seed: int = 0, epochs: int = 30, lr: float = 1e-3, weight_decay: float = 0.01,
                          batch_size: int = 256):
    """Fit the context network on boxes of many receipts: `features[k]` (N_k, F) from
    `context_features` of SDMG-R outputs the SDMG-R model never trained on, `labels[k]` (N_k,)
    their true class ids. AdamW, cross-entropy, shuffled mini-batches; deterministic for a seed."""
    import torch

    x = torch.from_numpy(np.concatenate(features).astype(np.float32))
    y = torch.from_numpy(np.concatenate(labels).astype(np.int64))
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    network = build_context_network(x.shape[1], num_classes)
    network.mean.copy_(x.mean(0))
    network.std.copy_(x.std(0) + 1e-3)
    network.train()
    optimiser = torch.optim.AdamW(network.parameters(), lr, weight_decay=weight_decay)
    for _ in range(epochs):
        for batch in torch.randperm(len(y), generator=generator).split(batch_size):
            loss = torch.nn.functional.cross_entropy(network(x[batch]), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return network.eval()
