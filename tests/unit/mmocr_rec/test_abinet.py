from __future__ import annotations

import torch

from handlers.families.mmocr_rec import build_model

from . import _parity

NAME = "abinet-vision_20e_st-an_mj"

sd, model, test_registered, test_raw_and_pred_parity, test_decode_oracle_raw = \
    _parity.standard_tests(NAME)


def test_position_tables_equal_mmocr(sd):
    fresh = build_model(NAME).state_dict()
    for key in ("encoder.pos_encoder.position_table",
                "decoder.vision_decoder.pos_encoder.position_table"):
        torch.testing.assert_close(fresh[key], sd[key], rtol=0, atol=1e-6)


def test_batched_equals_single(model):
    _parity.check_batched(model, (3, 32, 128))
