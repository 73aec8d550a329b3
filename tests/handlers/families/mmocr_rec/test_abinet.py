from __future__ import annotations

from . import _parity

NAME = "abinet-vision_20e_st-an_mj"

sd, model, test_registered, test_raw_and_pred_parity, test_decode_oracle_raw = \
    _parity.standard_tests(NAME)


def test_position_tables_equal_mmocr(sd):
    _parity.check_buffers_built_equal(NAME, sd, (
        "encoder.pos_encoder.position_table",
        "decoder.vision_decoder.pos_encoder.position_table"))


def test_batched_equals_single(model):
    _parity.check_batched(model, (3, 32, 128))
