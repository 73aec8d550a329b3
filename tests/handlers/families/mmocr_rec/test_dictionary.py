from __future__ import annotations

import json

import pytest
import torch

from handlers.families.mmocr_rec.charsets import DICT36, DICT90
from handlers.families.mmocr_rec.decoding import attention_decode, ctc_decode
from handlers.families.mmocr_rec.dictionary import Dictionary

from tests.oracle import oracle_subdir


@pytest.mark.parametrize("fname,chars", [("lower_english_digits.txt", DICT36),
                                         ("english_digits_symbols.txt", DICT90)])
def test_builtin_charsets_match_dict_files(fname, chars):
    d = Dictionary(oracle_subdir() / "dicts" / fname)
    assert "".join(d.dict) == chars


def test_layout_ctc():
    d = Dictionary(chars=DICT36, with_padding=True)
    assert d.num_classes == 37 and d.padding_idx == 36
    assert d.start_idx is None and d.end_idx is None and d.unknown_idx is None


def test_layout_attention_same_start_end():
    d = Dictionary(chars=DICT90, with_start=True, with_end=True, same_start_end=True,
                   with_padding=True, with_unknown=True)
    assert d.num_classes == 93
    assert d.start_idx == d.end_idx == 90 and d.padding_idx == 91 and d.unknown_idx == 92
    assert d.dict[90] == "<BOS/EOS>"


def test_layout_separate_start_end():
    d = Dictionary(chars=DICT36, with_start=True, with_end=True, with_padding=True,
                   with_unknown=True)
    assert (d.start_idx, d.end_idx, d.padding_idx, d.unknown_idx) == (36, 37, 38, 39)


def test_str2idx_unknown_and_drop_and_raise():
    d = Dictionary(chars=DICT36, with_unknown=True)
    assert d.str2idx("a!") == [10, d.unknown_idx]
    d2 = Dictionary(chars=DICT36, with_unknown=True, unknown_token=None)
    assert d2.str2idx("a b") == [10, 11]
    with pytest.raises(KeyError):
        Dictionary(chars=DICT36).str2idx("A")
    assert d.idx2str([10, 11]) == "ab"
    with pytest.raises(IndexError):
        d.idx2str([99])


def test_duplicate_and_special_token_clash():
    with pytest.raises(ValueError):
        Dictionary(chars="aa")


def test_ctc_decode_collapse_and_blank():
    d = Dictionary(chars="ab", with_padding=True)  # blank = 2
    seq = [0, 0, 2, 0, 1, 1, 2, 2, 1]
    probs = torch.full((len(seq), 3), 0.1)
    for t, i in enumerate(seq):
        probs[t, i] = 0.5 + 0.01 * t
    r = ctc_decode(probs, d)
    assert r.text == "aabb"
    assert r.char_scores == pytest.approx([0.5, 0.53, 0.54, 0.58])
    assert r.score == pytest.approx(sum([0.5, 0.53, 0.54, 0.58]) / 4)
    assert ctc_decode(probs, d, valid_ratio=0.5).text == "aab"


def test_attention_decode_stops_at_end():
    d = Dictionary(chars="ab", with_start=True, with_end=True, same_start_end=True,
                   with_padding=True)  # end 2, pad 3
    seq = [0, 3, 1, 2, 0]
    probs = torch.full((len(seq), 4), 0.1)
    for t, i in enumerate(seq):
        probs[t, i] = 0.6
    r = attention_decode(probs, d)
    assert r.text == "ab" and len(r.char_scores) == 2


@pytest.mark.parametrize("name", ["crnn_mini-vgg_5e_mj", "satrn_shallow-small_5e_st_mj",
                                  "svtr-small_20e_st_mj"])
def test_decoding_oracle_raw_gives_oracle_pred(name):
    """The decoders alone, applied to the oracle's raw probabilities."""
    root = oracle_subdir()
    cfg = json.loads((root / "configs" / f"{name}.json").read_text())["model"]
    dcfg = dict(cfg["decoder"]["dictionary"])
    dcfg.pop("type")
    fname = dcfg.pop("dict_file").rsplit("/", 1)[-1]
    d = Dictionary(root / "dicts" / fname, **dcfg)
    out = torch.load(root / "models" / f"{name}.outputs.pt")
    post = cfg["decoder"]["postprocessor"]
    ignore = post.get("ignore_chars", ["padding"])
    fn = ctc_decode if post["type"] == "CTCPostProcessor" else attention_decode
    r = fn(out["raw"][0], d, ignore_chars=ignore)
    assert r.text == out["pred"]["text"]
    assert r.char_scores == pytest.approx(out["pred"]["score"], rel=1e-6)
