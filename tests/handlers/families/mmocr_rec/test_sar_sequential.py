"""SAR with MMOCR's SequentialSARDecoder: key list from the sources, the parallel config's
weights mapped onto it (first step = the oracle's parallel output), greedy == teacher-forced."""
from __future__ import annotations

import pytest
import torch

from handlers.families.mmocr_rec import available, build_model, config_of
from handlers.families.mmocr_rec.sar import SequentialSARDecoder
from tests.oracle import outputs, state_dict

from . import keys

NAME = "sar_resnet31_sequential-decoder_5e_st-sub_mj-sub_sa_real"
PARALLEL = "sar_resnet31_parallel-decoder_5e_st-sub_mj-sub_sa_real"


def parallel_to_sequential(sd: dict) -> dict:
    """Same functions, other layout: Linear -> 1x1 conv, 2-layer LSTM -> two LSTM cells."""
    out = {}
    for key, value in sd.items():
        if key.startswith("decoder.conv1x1_") and key.endswith("weight"):
            value = value.view(*value.shape, 1, 1)
        elif key.startswith("decoder.rnn_decoder."):
            name, layer = key.split(".")[-1].rsplit("_l", 1)
            key = f"decoder.rnn_decoder_layer{int(layer) + 1}.{name}"
        out[key] = value
    return out


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    m = build_model(NAME).eval()
    m.load_state_dict(parallel_to_sequential(state_dict(PARALLEL)), strict=True)
    return m


@pytest.fixture(scope="module")
def greedy(model):
    x = outputs(PARALLEL)["inputs"]
    with torch.no_grad():
        feat = model.backbone(x)
        out_enc = model.encoder(feat)
        return feat, out_enc, model.decoder(feat, out_enc)


def test_registered_with_the_parallel_preprocessing():
    assert NAME in available()
    assert config_of(NAME)["input"] == config_of(PARALLEL)["input"]
    assert isinstance(build_model(NAME).decoder, SequentialSARDecoder)


def test_key_list_and_strict_load_of_regenerated_weights():
    m = build_model(NAME).eval()
    keys.check_matches(m, NAME)
    sd = keys.regenerate(NAME, m.state_dict())
    m.load_state_dict(sd, strict=True)
    assert torch.equal(m.decoder.rnn_decoder_layer2.weight_hh, sd[
        "decoder.rnn_decoder_layer2.weight_hh"])
    with torch.no_grad():
        probs = m(torch.randn(1, 3, 48, 64, generator=torch.Generator().manual_seed(0)))
    assert probs.shape == (1, 30, 93)
    torch.testing.assert_close(probs.sum(-1), torch.ones(1, 30))


def test_first_step_equals_oracle_parallel_decoder(greedy):
    """Before any cell-state quirk applies, the sequential cells compute what MMOCR's
    parallel decoder computed at its first character."""
    raw = outputs(PARALLEL)["raw"]
    torch.testing.assert_close(greedy[2][:, 0], raw[:, 0], rtol=1e-4, atol=1e-6)


def test_greedy_equals_teacher_forced_on_its_own_outputs(model, greedy):
    feat, out_enc, probs = greedy
    idx = probs.argmax(-1)
    start = torch.full((idx.size(0), 1), model.dictionary.start_idx, dtype=torch.long)
    targets = torch.cat([start, idx[:, :-1]], 1)
    with torch.no_grad():
        forced = model.decoder.teacher_forced(feat, out_enc, targets)
        wrong = targets.clone()
        wrong[:, 1:] = (wrong[:, 1:] + 1) % 90  # other characters fed from step 1 on
        other = model.decoder.teacher_forced(feat, out_enc, wrong)
    torch.testing.assert_close(forced.softmax(-1), probs, rtol=0, atol=1e-6)
    torch.testing.assert_close(other[:, 0], forced[:, 0], rtol=0, atol=0)
    assert (other[:, 1:] - forced[:, 1:]).abs().amax(-1).min() > 1e-4


def small_decoder(**kw) -> SequentialSARDecoder:
    torch.manual_seed(0)
    return SequentialSARDecoder(11, 9, 10, d_k=8, d_model=6, d_enc=6, max_seq_len=5,
                                pred_concat=True, **kw).eval()


def test_cell_state_is_replaced_by_hidden_state_after_each_step():
    dec = small_decoder()
    feat, out_enc = torch.randn(2, 6, 3, 7), torch.randn(2, 6)
    state = dec.init_state(out_enc)
    assert not torch.equal(state[0], state[1])  # the holistic step keeps a real cell state
    _, state = dec.step(torch.randn(2, 6), feat, out_enc, state, None)
    assert state[1] is state[0] and state[3] is state[2]


def test_valid_ratio_hides_the_padded_columns():
    dec = small_decoder()
    feat, out_enc = torch.randn(1, 6, 3, 8), torch.randn(1, 6)
    changed = feat.clone()
    # ceil(8 * 0.5) = 4 valid columns; column 4 still reaches column 3 through the 3x3 key conv
    changed[..., 5:] = 100 * torch.randn(1, 6, 3, 3)
    with torch.no_grad():
        same = [dec(f, out_enc, [0.5]) for f in (feat, changed)]
        full = [dec(f, out_enc, [1.0]) for f in (feat, changed)]
    torch.testing.assert_close(same[0], same[1], rtol=0, atol=0)
    assert not torch.allclose(full[0], full[1])


def test_bidirectional_decoder_is_refused():
    with pytest.raises(ValueError, match="dec_bi_rnn"):
        small_decoder(dec_bi_rnn=True)


def test_batched_equals_single(model):
    from . import _parity

    _parity.check_batched(model, (3, 48, 64))
