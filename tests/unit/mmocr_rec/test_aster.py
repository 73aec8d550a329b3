from __future__ import annotations

import copy

import torch

from handlers.families.mmocr_rec import build_model

from . import _parity

NAME = "aster_resnet45_6e_st_mj"

sd, model, test_registered, test_raw_and_pred_parity, test_decode_oracle_raw = \
    _parity.standard_tests(NAME)


def test_tps_buffers_equal_mmocr(sd):
    fresh = build_model(NAME).state_dict()
    for key in ("preprocessor.tps.inverse_kernel", "preprocessor.tps.padding_matrix",
                "preprocessor.tps.target_coordinate_repr",
                "preprocessor.tps.target_control_points"):
        torch.testing.assert_close(fresh[key], sd[key], rtol=0, atol=1e-6)


def test_batched_equals_single(model):
    """float64: in float32 batched GEMMs round differently (up to ~2.5e-5 abs here)."""
    m64 = copy.deepcopy(model).double()
    _parity.check_batched(m64, (3, 64, 256), rtol=1e-9, atol=1e-10, dtype=torch.float64)
