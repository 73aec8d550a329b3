from __future__ import annotations

import pytest
import torch

from handlers.families.mmocr_rec import build_model

from . import _parity

NAME = "crnn_mini-vgg_5e_mj"

sd, model, test_registered, test_raw_and_pred_parity, test_decode_oracle_raw = \
    _parity.standard_tests(NAME)


def test_registry_refuses_unknown_names():
    with pytest.raises(ValueError, match="unknown MMOCR recogniser config"):
        build_model("crnn_nope")


def test_strict_load_keys(model, sd):
    assert set(model.state_dict()) == set(sd)


def test_batched_equals_single(model):
    _parity.check_batched(model, (1, 32, 96), n=4, rtol=1e-4, atol=1e-6, seed=3,
                          same_text=True)


def test_wrong_height_is_refused(model):
    with pytest.raises(ValueError, match="height"):
        model(torch.randn(1, 1, 48, 64))


def test_swapped_weight_fails(model):
    """The decoder BiLSTM's forward and reverse recurrent weights exchanged: outside the allowance."""
    _parity.check_swapped_weight_fails(model, NAME, "decoder.decoder.0.rnn.weight_hh_l0",
                                       "decoder.decoder.0.rnn.weight_hh_l0_reverse")
