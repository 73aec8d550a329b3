from __future__ import annotations

import pytest
import torch

from handlers.families.mmocr_rec import available, build_model

from . import _parity
from ._oracle import state_dict

NAME = "abinet-vision_20e_st-an_mj"


@pytest.fixture(scope="module")
def sd():
    return state_dict(NAME)


@pytest.fixture(scope="module")
def model(sd):
    return _parity.load(NAME, sd)


def test_registered():
    assert NAME in available()


def test_position_tables_equal_mmocr(sd):
    fresh = build_model(NAME).state_dict()
    for key in ("encoder.pos_encoder.position_table",
                "decoder.vision_decoder.pos_encoder.position_table"):
        torch.testing.assert_close(fresh[key], sd[key], rtol=0, atol=1e-6)


def test_raw_and_pred_parity(model):
    _parity.check_raw_and_pred(model, NAME)


def test_decode_oracle_raw(model):
    _parity.check_decode_oracle_raw(model, NAME)


def test_batched_equals_single(model):
    _parity.check_batched(model, (3, 32, 128))
