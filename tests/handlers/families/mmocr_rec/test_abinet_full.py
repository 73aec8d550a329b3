"""ABINet with its language model and fuser (abinet_20e_st-an_mj): key list from MMOCR's
sources, the vision part still the oracle's abinet-vision, and the iterative correction."""
from __future__ import annotations

import pytest
import torch

from handlers.families.mmocr_rec import available, build_model, config_of
from handlers.families.mmocr_rec.abinet_lm import ABILanguageDecoder, text_lengths
from handlers.families.mmocr_rec.decoding import attention_decode

from . import keys
from tests.oracle import assert_parity, compare, outputs, state_dict

NAME = "abinet_20e_st-an_mj"
VISION = "abinet-vision_20e_st-an_mj"
LM_PREFIXES = ("decoder.w_att.", "decoder.cls.", "decoder.language_decoder.")


@pytest.fixture(scope="module")
def model():
    """Oracle weights for the vision part, the key-list formula for the language part."""
    torch.set_num_threads(1)
    m = build_model(NAME).eval()
    sd = keys.regenerate(NAME, m.state_dict())
    sd.update(state_dict(VISION))
    m.load_state_dict(sd, strict=True)
    return m


@pytest.fixture(scope="module")
def rounds(model):
    with torch.no_grad():
        out_enc = model.encoder(model.backbone(outputs(VISION)["inputs"]))
        return out_enc, model.decoder.rounds(out_enc)


def test_registered_with_the_vision_preprocessing():
    assert NAME in available()
    assert config_of(NAME)["input"] == config_of(VISION)["input"]


def test_key_list_matches_and_loads_strictly():
    m = build_model(NAME)
    keys.check_matches(m, NAME)
    m.load_state_dict(keys.regenerate(NAME, m.state_dict()), strict=True)


def test_vision_part_keys_are_the_oracle_abinet_vision_keys(model):
    vision = {k: tuple(v.shape) for k, v in model.state_dict().items()
              if not k.startswith(LM_PREFIXES)}
    assert vision == {k: tuple(v.shape) for k, v in state_dict(VISION).items()}


def test_language_position_tables_are_the_vision_decoders(model):
    ref = state_dict(VISION)["decoder.vision_decoder.pos_encoder.position_table"]
    lm = model.decoder.language_decoder
    for table in (lm.token_encoder.position_table, lm.pos_encoder.position_table):
        torch.testing.assert_close(table, ref, rtol=0, atol=1e-6)


def test_zero_iterations_is_the_vision_model(model):
    """With no correction round the full model's output is the vision model's (the oracle's
    ABINet-vision output; bit-exact where written, 4.3e-7 off on an AVX-512 EPYC)."""
    out = outputs(VISION)
    model.decoder.num_iters = 0
    try:
        with torch.no_grad():
            probs = model(out["inputs"])
    finally:
        model.decoder.num_iters = 3
    assert_parity(compare("vision-only probabilities", probs, out["raw"]))  # FLOOR, 1e-4
    assert model.postprocess(probs)[0].text == out["pred"]["text"]


def test_each_round_reads_the_previous_fused_logits(model, rounds):
    _, r = rounds
    assert len(r["language"]) == len(r["fused"]) == 3
    lm, fuser = model.decoder.language_decoder, model.decoder
    with torch.no_grad():
        inputs = [r["vision"]["logits"]] + r["fused"][:-1]
        for logits, lang, fused in zip(inputs, r["language"], r["fused"]):
            again = lm(logits)
            torch.testing.assert_close(again["logits"], lang["logits"], rtol=0, atol=0)
            torch.testing.assert_close(fuser.fuse(r["vision"]["feature"], lang["feature"]),
                                       fused, rtol=0, atol=0)
    # the correction changes something at every round
    assert not torch.allclose(r["fused"][0], r["vision"]["logits"], atol=1e-3)
    assert not torch.allclose(r["fused"][1], r["fused"][0], atol=1e-4)


def test_decoding_reads_the_last_alignment_output(model, rounds):
    x = outputs(VISION)["inputs"]
    with torch.no_grad():
        probs = model(x)
    last = rounds[1]["fused"][-1]
    torch.testing.assert_close(probs, last.softmax(-1), rtol=0, atol=0)
    got = model.postprocess(probs)[0]
    want = attention_decode(last.softmax(-1)[0], model.dictionary)
    assert (got.text, got.char_scores) == (want.text, want.char_scores)
    vision_only = attention_decode(rounds[1]["vision"]["logits"].softmax(-1)[0], model.dictionary)
    assert got.char_scores != vision_only.char_scores


def test_fuser_gate_weighs_language_against_vision(model):
    fuser = model.decoder
    g = torch.Generator().manual_seed(2)
    vis, lang = torch.randn(1, 26, 512, generator=g), torch.randn(1, 26, 512, generator=g)
    bias = fuser.w_att.bias.data.clone()
    try:
        with torch.no_grad():
            fuser.w_att.bias.fill_(1e4)  # gate = 1: all language
            all_lang = fuser.fuse(vis, lang)
            fuser.w_att.bias.fill_(-1e4)  # gate = 0: all vision
            all_vis = fuser.fuse(vis, lang)
    finally:
        fuser.w_att.bias.data.copy_(bias)
    with torch.no_grad():
        torch.testing.assert_close(all_lang, fuser.cls(lang))
        torch.testing.assert_close(all_vis, fuser.cls(vis))


def test_text_lengths_stop_after_the_first_end_token():
    logits = torch.zeros(3, 6, 5)
    logits[0, :, 1] = 1
    logits[0, [2, 4], 4] = 5  # end (4) at 2 and 4 -> length 3
    logits[1, :, 2] = 1       # no end -> T
    logits[2, 0, 4] = 5       # end first -> 1 (the decoder clamps it to 2)
    assert text_lengths(logits, 4).tolist() == [3, 6, 1]


def small_lm() -> ABILanguageDecoder:
    torch.manual_seed(0)
    return ABILanguageDecoder(7, end_idx=6, d_model=16, n_head=2, d_inner=32, n_layers=2,
                              max_seq_len=8).eval()


def test_language_model_is_a_cloze_model():
    """Position t never reads its own token; nothing reads tokens after the first end."""
    lm = small_lm()
    logits = torch.randn(1, 8, 7, generator=torch.Generator().manual_seed(1))
    logits[..., 6] = -10
    logits[0, 5, 6] = 10  # end token at 5: length 6, positions 6, 7 hidden
    changed_self, changed_tail = logits.clone(), logits.clone()
    changed_self[0, 2, :6] = torch.randn(6)
    changed_tail[0, 6:, :6] = torch.randn(2, 6)
    with torch.no_grad():
        base, own, tail = (lm(x)["logits"] for x in (logits, changed_self, changed_tail))
    torch.testing.assert_close(own[0, 2], base[0, 2], rtol=0, atol=1e-6)
    assert (own[0, [0, 1, 3, 4, 5]] - base[0, [0, 1, 3, 4, 5]]).abs().amax(-1).min() > 1e-4
    torch.testing.assert_close(tail, base, rtol=0, atol=1e-6)


def test_self_attention_variant_is_refused():
    with pytest.raises(ValueError, match="use_self_attn"):
        ABILanguageDecoder(7, 6, d_model=16, n_head=2, use_self_attn=True)


def test_batched_equals_single(model):
    """Lengths and padding masks are per row: a batch gives what single rows give."""
    from . import _parity

    _parity.check_batched(model, (3, 32, 128))
