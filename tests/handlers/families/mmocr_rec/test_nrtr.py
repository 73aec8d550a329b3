from __future__ import annotations

from . import _parity

NAME = "nrtr_resnet31-1by16-1by8_6e_st_mj"

sd, model, test_registered, test_raw_and_pred_parity, test_decode_oracle_raw = \
    _parity.standard_tests(NAME)


def test_position_table_equals_mmocr(sd):
    _parity.check_buffers_built_equal(NAME, sd, ("decoder.position_enc.position_table",))


def test_batched_equals_single(model):
    _parity.check_batched(model, (3, 32, 64))
