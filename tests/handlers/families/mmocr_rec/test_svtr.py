from __future__ import annotations

import torch

from handlers.families.mmocr_rec import build_model

from . import _parity

NAME = "svtr-small_20e_st_mj"

sd, model, test_registered, test_raw_and_pred_parity, test_decode_oracle_raw = \
    _parity.standard_tests(NAME)


def test_constructor_buffers_equal_mmocr_kept_values(sd):
    """TPS tables and local-attention masks built by our constructors equal MMOCR's."""
    fresh = build_model(NAME).state_dict()
    checked = 0
    for key, ref in sd.items():
        if key.startswith("preprocessor.tps."):
            _parity.assert_buffer_close(fresh[key], ref, key)
            checked += 1
        elif key.endswith("mixer.mask"):
            assert torch.equal(fresh[key], ref), key
            checked += 1
    assert checked == 4 + 8


def test_batched_equals_single(model):
    # float32 batched GEMMs round differently (seen: 1.1e-5 abs on probabilities ~0.05)
    _parity.check_batched(model, (3, 64, 256), n=3, rtol=1e-3, atol=5e-5, seed=7,
                          same_text=True)


def test_batched_equals_single_float64():
    """In float64 batching is exact up to rounding: no cross-sample leakage."""
    m = build_model(NAME).eval().double()
    _parity.check_batched(m, (3, 64, 256), n=3, rtol=0, atol=1e-12, dtype=torch.float64,
                          seed=7)
