"""Shared helpers for the MMOCR family tests: oracle paths, weights, one-thread forward."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

# tests/unit/mmocr/_oracle.py -> parents[3] is the repo; the oracle sits beside it.
ORACLE = Path(__file__).resolve().parents[3].parent / "shared" / "oracle"
RTOL = 1e-4


def oracle_file(*parts: str) -> Path:
    path = ORACLE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"MMOCR oracle data not available: {path}")
    return path


def oracle_state_dict(name: str) -> dict[str, torch.Tensor]:
    tools = oracle_file("tools", "oracle_weights.py").parent
    if str(tools) not in sys.path:
        sys.path.insert(0, str(tools))
    from oracle_weights import regenerate_state_dict

    return regenerate_state_dict(str(oracle_file("models", f"{name}.keys.txt")),
                                 str(oracle_file("models", f"{name}.buffers.pt")))


def expected_shapes(name: str) -> dict[str, tuple[int, ...]]:
    expected = {}
    for line in oracle_file("models", f"{name}.keys.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, shape = line.split("\t")[:2]
            expected[key] = tuple(int(s) for s in shape.strip("()").split(",") if s.strip())
    return expected


def run_oracle(name: str, model: torch.nn.Module) -> dict:
    """Strict-load the oracle weights, run det_input_640 once on one thread."""
    model.load_state_dict(oracle_state_dict(name), strict=True)
    model.eval()
    outputs = torch.load(oracle_file("models", f"{name}.outputs.pt"))
    inputs = torch.load(oracle_file("models", "det_input_640.pt"))["inputs"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            raw = model(inputs)
    finally:
        torch.set_num_threads(threads)
    return {"name": name, "outputs": outputs, "raw": raw, "model": model}


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    """Largest difference relative to the reference tensor's largest magnitude.

    Element-by-element relative error means nothing on the near-zero elements of a feature map
    (a 1e-7 summation-order difference on a 1e-6 value is 10%), and the summation order of the
    convolutions changes with the CPU: outputs that were bit-identical to the oracle where these
    tests were written differ in the last bits on an AVX-512 AMD EPYC (2026-12-04; e.g. PSENet
    1.9e-4 absolute on logits up to 3.6, 5.1e-5 of the magnitude)."""
    return float((ours - ref).abs().max()) / max(float(ref.abs().max()), 1e-30)


def match_polygons(ours: list[np.ndarray], theirs: list[np.ndarray], tol: float = 1.0
                   ) -> list[int]:
    """For each oracle polygon the index of ours whose vertices are all within ``tol`` px.

    Vertex order is compared up to a cyclic shift (OpenCV versions start
    ``boxPoints`` at different corners); same vertex count required; one-to-one.
    """
    ours = [np.asarray(p, np.float64).reshape(-1, 2) for p in ours]
    by_len: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for n in {len(p) for p in ours}:
        idx = np.array([i for i, p in enumerate(ours) if len(p) == n])
        by_len[n] = (idx, np.stack([ours[i] for i in idx]))
    result = []
    for poly in theirs:
        if len(poly) not in by_len:
            raise AssertionError(f"no polygon of ours has {len(poly)} vertices")
        idx, stack = by_len[len(poly)]
        # (shift, candidate): max vertex distance; best over cyclic shifts.
        d = np.stack([np.linalg.norm(np.roll(stack, k, axis=1) - poly[None], axis=2).max(1)
                      for k in range(len(poly))]).min(0)
        best = int(np.argmin(d))
        assert d[best] <= tol, (poly.tolist(), float(d[best]))
        result.append(int(idx[best]))
    assert sorted(result) == list(range(len(ours))), "polygons are not matched one-to-one"
    return result


def check_prediction(polygons, scores, pred, tol_px: float = 1.0, tol_score: float = 1e-4):
    theirs = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in pred["polygons"]]
    assert len(polygons) == len(theirs) == len(scores)
    index = match_polygons(polygons, theirs, tol_px)
    for i, j in enumerate(index):
        assert abs(float(scores[j]) - float(pred["scores"][i])) <= tol_score
    return index
