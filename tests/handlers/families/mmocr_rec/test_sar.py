from __future__ import annotations

from . import _parity

NAME = "sar_resnet31_parallel-decoder_5e_st-sub_mj-sub_sa_real"

sd, model, test_registered, test_raw_and_pred_parity, test_decode_oracle_raw = \
    _parity.standard_tests(NAME)


def test_batched_equals_single(model):
    _parity.check_batched(model, (3, 48, 64))
