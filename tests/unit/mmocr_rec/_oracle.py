"""Helpers to reach the MMOCR oracle in ../shared/oracle (beside the repo root)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[3]
ORACLE = REPO.parent / "shared" / "oracle"


def oracle_dir() -> Path:
    if not (ORACLE / "README.md").exists():
        pytest.skip(f"MMOCR oracle reference data not available at {ORACLE}")
    return ORACLE


def state_dict(name: str) -> dict:
    root = oracle_dir()
    tools = str(root / "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    from oracle_weights import regenerate_state_dict

    return regenerate_state_dict(str(root / "models" / f"{name}.keys.txt"),
                                 str(root / "models" / f"{name}.buffers.pt"))


def outputs(name: str) -> dict:
    return torch.load(oracle_dir() / "models" / f"{name}.outputs.pt")


def errors(got: torch.Tensor, ref: torch.Tensor) -> tuple[float, float]:
    """(max abs difference, max abs difference / the reference's largest magnitude).

    Relative to the tensor's magnitude, not element by element: near-zero probabilities make
    element-wise ratios meaningless, and summation order (hence the last bits) changes with
    the CPU (an AVX-512 EPYC gives SVTR 4.7e-6 and ASTER 1.6e-5 absolute on probabilities)."""
    d = (got.double() - ref.double()).abs()
    return float(d.max()), float(d.max()) / max(float(ref.double().abs().max()), 1e-30)
