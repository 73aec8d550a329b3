"""Where the MMOCR 1.0.1 oracle lives (the ``shared`` folder beside the repo root)."""
from __future__ import annotations

from pathlib import Path

import pytest

# tests/unit/kie/_oracle.py -> parents[3] is the repo root; ``shared`` sits beside it.
ORACLE = Path(__file__).resolve().parents[3].parent / "shared" / "oracle"


def oracle_file(*parts: str) -> Path:
    path = ORACLE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"MMOCR oracle not available (expected {path}); parity cannot be checked")
    return path
