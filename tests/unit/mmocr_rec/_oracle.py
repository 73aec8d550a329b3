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
    d = (got.double() - ref.double()).abs()
    rel = d / ref.double().abs().clamp_min(1e-30)
    return float(d.max()), float(rel.max())
