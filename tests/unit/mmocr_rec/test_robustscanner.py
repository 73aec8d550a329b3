from __future__ import annotations

import pytest

from handlers.families.mmocr_rec import available

from . import _parity

NAME = "robustscanner_resnet31_5e_st-sub_mj-sub_sa_real"


@pytest.fixture(scope="module")
def model():
    return _parity.load(NAME)


def test_registered():
    assert NAME in available()


def test_raw_and_pred_parity(model):
    _parity.check_raw_and_pred(model, NAME)


def test_decode_oracle_raw(model):
    _parity.check_decode_oracle_raw(model, NAME)


def test_batched_equals_single(model):
    _parity.check_batched(model, (3, 48, 64))
