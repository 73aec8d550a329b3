"""Shared oracle-parity checks for the attention recognisers (NRTR, SAR, ...)."""
from __future__ import annotations

import pytest
import torch

from handlers.families.mmocr_rec import build_model

from ._oracle import errors, outputs, state_dict


def load(name: str, sd: dict | None = None):
    m = build_model(name).eval()
    m.load_state_dict(state_dict(name) if sd is None else sd, strict=True)
    return m


def check_raw_and_pred(model, name: str, rel_tol: float = 1e-4) -> None:
    out = outputs(name)
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            probs = model(out["inputs"])
    finally:
        torch.set_num_threads(n_threads)
    assert probs.shape == out["raw"].shape
    abs_err, rel_err = errors(probs, out["raw"])
    print(f"{name}: max abs err {abs_err:.3g}, max rel err {rel_err:.3g}")
    assert rel_err <= rel_tol
    r = model.postprocess(probs)[0]
    assert r.text == out["pred"]["text"]
    assert r.char_scores == pytest.approx(out["pred"]["score"], rel=1e-4)


def check_decode_oracle_raw(model, name: str) -> None:
    out = outputs(name)
    r = model.postprocess(out["raw"])[0]
    assert r.text == out["pred"]["text"]
    assert r.char_scores == pytest.approx(out["pred"]["score"], rel=1e-6)


def check_batched(model, shape, n: int = 2, rtol: float = 1e-4, atol: float = 1e-5,
                  dtype: torch.dtype = torch.float32) -> None:
    g = torch.Generator().manual_seed(5)
    x = torch.randn(n, *shape, generator=g, dtype=dtype)
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(x[i:i + 1]) for i in range(n)])
    torch.testing.assert_close(batched, single, rtol=rtol, atol=atol)
