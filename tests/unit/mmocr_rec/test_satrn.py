from __future__ import annotations

import pytest
import torch

from handlers.families.mmocr_rec import available, build_model

from ._oracle import errors, outputs, state_dict

NAME = "satrn_shallow-small_5e_st_mj"


@pytest.fixture(scope="module")
def model():
    m = build_model(NAME).eval()
    m.load_state_dict(state_dict(NAME), strict=True)
    return m


def test_registered():
    assert NAME in available()


def test_constructor_buffers_equal_mmocr_kept_values():
    """Sinusoid tables built by our constructors equal MMOCR's (stored as 'kept')."""
    fresh = build_model(NAME).state_dict()
    sd = state_dict(NAME)
    for key in ("encoder.position_enc.h_position_encoder",
                "encoder.position_enc.w_position_encoder",
                "decoder.position_enc.position_table"):
        torch.testing.assert_close(fresh[key], sd[key], rtol=0, atol=1e-6)


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
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 32, 100, generator=g)
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(x[i:i + 1]) for i in range(2)])
    torch.testing.assert_close(batched, single, rtol=1e-4, atol=1e-5)
