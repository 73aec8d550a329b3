from __future__ import annotations

from . import _parity

NAME = "master_resnet31_12e_st_mj_sa"

sd, model, test_registered, test_raw_and_pred_parity, test_decode_oracle_raw = \
    _parity.standard_tests(NAME)


def test_position_tables_equal_mmocr(sd):
    _parity.check_buffers_built_equal(NAME, sd, (
        "decoder.positional_encoding.position_table",
        "decoder.feat_positional_encoding.position_table"))


def test_batched_equals_single(model):
    _parity.check_batched(model, (3, 48, 64))


def test_swapped_weight_exceeds_the_allowance(model):
    check = _parity.check_swapped_weight_fails(model, NAME, "decoder.decoder_layers.0.ffns.0.layers.1.weight",
                                               "decoder.decoder_layers.1.ffns.0.layers.1.weight")
    assert check.error > 10 * _parity.NO_FLOAT64[NAME], check
