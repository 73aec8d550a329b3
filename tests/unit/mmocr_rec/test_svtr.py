from __future__ import annotations

import pytest
import torch

from handlers.families.mmocr_rec import available, build_model

from ._oracle import errors, outputs, state_dict

NAME = "svtr-small_20e_st_mj"


@pytest.fixture(scope="module")
def model():
    m = build_model(NAME).eval()
    m.load_state_dict(state_dict(NAME), strict=True)
    return m


def test_registered():
    assert NAME in available()


def test_constructor_buffers_equal_mmocr_kept_values():
    """TPS tables and local-attention masks built by our constructors equal MMOCR's."""
    fresh = build_model(NAME).state_dict()
    sd = state_dict(NAME)
    checked = 0
    for key, ref in sd.items():
        if key.startswith("preprocessor.tps."):
            torch.testing.assert_close(fresh[key], ref, rtol=0, atol=1e-6)
            checked += 1
        elif key.endswith("mixer.mask"):
            assert torch.equal(fresh[key], ref), key
            checked += 1
    assert checked == 4 + 8


def test_raw_and_pred_parity(model):
    out = outputs(NAME)
    torch.set_num_threads(1)
    with torch.no_grad():
        probs = model(out["inputs"])
    assert probs.shape == out["raw"].shape
    abs_err, rel_err = errors(probs, out["raw"])
    print(f"{NAME}: max abs err {abs_err:.3g}, max rel err {rel_err:.3g}")
    assert rel_err <= 1e-4
    r = model.postprocess(probs)[0]
    assert r.text == out["pred"]["text"]
    assert r.char_scores == pytest.approx(out["pred"]["score"], rel=1e-4)


def test_batched_equals_single(model):
    g = torch.Generator().manual_seed(7)
    x = torch.randn(3, 3, 64, 256, generator=g)
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(x[i:i + 1]) for i in range(3)])
    # float32 batched GEMMs round differently (seen: 1.1e-5 abs on probabilities ~0.05)
    torch.testing.assert_close(batched, single, rtol=1e-3, atol=5e-5)
    assert [r.text for r in model.postprocess(batched)] == \
        [r.text for r in model.postprocess(single)]


def test_batched_equals_single_float64():
    """In float64 batching is exact up to rounding: no cross-sample leakage."""
    m = build_model(NAME).eval().double()
    g = torch.Generator().manual_seed(7)
    x = torch.randn(3, 3, 64, 256, generator=g, dtype=torch.float64)
    with torch.no_grad():
        batched = m(x)
        single = torch.cat([m(x[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-12)
