from __future__ import annotations

import torch

from handlers.families.mmocr_rec import build_model

from . import _parity

NAME = "satrn_shallow-small_5e_st_mj"

sd, model, test_registered, test_raw_and_pred_parity, test_decode_oracle_raw = \
    _parity.standard_tests(NAME)


def test_constructor_buffers_equal_mmocr_kept_values(sd):
    """Sinusoid tables built by our constructors equal MMOCR's (stored as 'kept')."""
    fresh = build_model(NAME).state_dict()
    for key in ("encoder.position_enc.h_position_encoder",
                "encoder.position_enc.w_position_encoder",
                "decoder.position_enc.position_table"):
        torch.testing.assert_close(fresh[key], sd[key], rtol=0, atol=1e-6)


def test_batched_equals_single(model):
    _parity.check_batched(model, (3, 32, 100))
