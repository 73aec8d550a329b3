"""Valid-ratio masks of the padded-width recognisers (SAR, RobustScanner, NRTR, SATRN).

MMOCR loops over python floats (``min(w, ceil(w * valid_ratio))``); these helpers compute the
same numbers with tensor ops, so that a traced ONNX graph takes the valid ratio as an input
instead of freezing the example's value and batch size.
"""
from __future__ import annotations

from typing import Sequence

import torch

ValidRatios = Sequence[float] | torch.Tensor | None


def valid_lengths(valid_ratios: ValidRatios, ref: torch.Tensor, length: int) -> torch.Tensor:
    """(N,) long: ``min(length, ceil(length * ratio))`` per row; N = ``ref.size(0)``.

    ``None`` means every column is valid. The product is taken in float64, as MMOCR's python
    floats do, so the lengths are exactly MMOCR's.
    """
    if valid_ratios is None:
        return torch.full_like(ref.reshape(ref.size(0), -1)[:, 0], length, dtype=torch.long)
    ratios = torch.as_tensor(valid_ratios, dtype=torch.float64, device=ref.device)
    return torch.clamp(torch.ceil(ratios * length), max=length).long()


def valid_columns(valid_ratios: ValidRatios, ref: torch.Tensor, length: int) -> torch.Tensor:
    """(N, length) bool, True at the columns inside each row's valid width."""
    columns = torch.arange(length, device=ref.device)
    return columns.unsqueeze(0) < valid_lengths(valid_ratios, ref, length).unsqueeze(1)
