from __future__ import annotations

from . import _parity

NAME = "satrn_shallow-small_5e_st_mj"

sd, model, test_registered, test_raw_and_pred_parity, test_decode_oracle_raw = \
    _parity.standard_tests(NAME)


def test_constructor_buffers_equal_mmocr_kept_values(sd):
    """Sinusoid tables built by our constructors equal MMOCR's (stored as 'kept')."""
    _parity.check_buffers_built_equal(NAME, sd, (
        "encoder.position_enc.h_position_encoder",
        "encoder.position_enc.w_position_encoder",
        "decoder.position_enc.position_table"))


def test_batched_equals_single(model):
    _parity.check_batched(model, (3, 32, 100))
