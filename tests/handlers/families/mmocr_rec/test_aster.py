from __future__ import annotations

import copy

import torch

from . import _parity

NAME = "aster_resnet45_6e_st_mj"

sd, model, test_registered, test_raw_and_pred_parity, test_decode_oracle_raw = \
    _parity.standard_tests(NAME)


def test_tps_buffers_equal_mmocr(sd):
    _parity.check_buffers_built_equal(NAME, sd, (
        "preprocessor.tps.inverse_kernel", "preprocessor.tps.padding_matrix",
        "preprocessor.tps.target_coordinate_repr", "preprocessor.tps.target_control_points"))


def test_batched_equals_single(model):
    """float64: in float32 batched GEMMs round differently (up to ~2.5e-5 abs here)."""
    m64 = copy.deepcopy(model).double()
    _parity.check_batched(m64, (3, 64, 256), rtol=1e-9, atol=1e-10, dtype=torch.float64)


def test_swapped_weight_fails(model):
    """The encoder BiLSTM's forward and reverse recurrent weights exchanged: outside the
    allowance (capped at 5e-3, since the float64 run alone would allow 5.5e-2)."""
    _parity.check_swapped_weight_fails(model, NAME, "encoder.bilstm.weight_hh_l0",
                                       "encoder.bilstm.weight_hh_l0_reverse")
