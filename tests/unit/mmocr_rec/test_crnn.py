from __future__ import annotations

import pytest
import torch

from handlers.families.mmocr_rec import available, build_model

from ._oracle import errors, outputs, state_dict

NAME = "crnn_mini-vgg_5e_mj"


@pytest.fixture(scope="module")
def model():
    m = build_model(NAME).eval()
    m.load_state_dict(state_dict(NAME), strict=True)
    return m


def test_registry():
    assert NAME in available()
    with pytest.raises(KeyError, match="unknown MMOCR recogniser config"):
        build_model("crnn_nope")


def test_strict_load_keys(model):
    sd = state_dict(NAME)
    assert set(model.state_dict()) == set(sd)


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
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 1, 32, 96, generator=g)
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(x[i:i + 1]) for i in range(4)])
    torch.testing.assert_close(batched, single, rtol=1e-4, atol=1e-6)
    assert [r.text for r in model.postprocess(batched)] == \
        [r.text for r in model.postprocess(single)]


def test_wrong_height_is_refused(model):
    with pytest.raises(ValueError, match="height"):
        model(torch.randn(1, 1, 48, 64))
