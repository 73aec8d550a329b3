"""Helpers to reach the MMOCR oracle in ../shared/oracle (beside the repo root)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from tests.unit.mmocr._oracle import rel_err

REPO = Path(__file__).resolve().parents[3]
ORACLE = REPO.parent / "shared" / "oracle"


def oracle_dir() -> Path:
    if not (ORACLE / "README.md").exists():
        pytest.skip(f"MMOCR oracle reference data not available at {ORACLE}")
    return ORACLE


def oracle_subdir(sub: str = "") -> Path:
    """The 1.0.1 oracle (``sub=""``) or one beside it in the same conventions (``"mmocr0x"``:
    MMOCR 0.6.3's NER, SegOCR and CRNN-TPS)."""
    path = oracle_dir() / sub
    if not (path / "README.md").exists():
        pytest.skip(f"MMOCR oracle reference data not available at {path}")
    return path


def state_dict(name: str, sub: str = "") -> dict:
    tools = str(oracle_dir() / "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    from oracle_weights import regenerate_state_dict

    models = oracle_subdir(sub) / "models"
    return regenerate_state_dict(str(models / f"{name}.keys.txt"),
                                 str(models / f"{name}.buffers.pt"))


def outputs(name: str, sub: str = "") -> dict:
    return torch.load(oracle_subdir(sub) / "models" / f"{name}.outputs.pt")


def errors(got: torch.Tensor, ref: torch.Tensor) -> tuple[float, float]:
    """(max abs difference, the detectors' `rel_err`: relative to the reference's largest
    magnitude). An AVX-512 EPYC gives SVTR 4.7e-6 and ASTER 1.6e-5 absolute on probabilities."""
    got, ref = got.double(), ref.double()
    return float((got - ref).abs().max()), rel_err(got, ref)
