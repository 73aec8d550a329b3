"""CRNN-TPS and SegOCR held to the MMOCR 0.6.3 oracle (../shared/oracle/mmocr0x): strict load of
the 0.x keys, raw logits within the oracle allowance (tests/oracle.py; the TPS path up to 1e-3), intermediates, predictions, the 0.x
convertor cases and the 0.x test pipelines. The last tests show the tolerance can fail: a wrong
normalisation constant or two swapped weights are caught."""
from __future__ import annotations

import copy
import json

import cv2
import numpy as np
import pytest
import torch

from handlers.families.mmocr_rec import build_model, config_of
from handlers.predictors.mmocr_rec import preprocess
from tests.oracle import (assert_parity, compare, mismatches, one_thread, oracle_subdir, outputs,
                          rel_err, state_dict)

from . import keys

TPS = "crnn_tps_academic_dataset"
SEG = "seg_r31_1by16_fpnocr_academic"
V0X = "mmocr0x"


def root():
    return oracle_subdir(V0X)


def state_dict0x(name: str) -> dict:
    return state_dict(name, V0X)


def outputs0x(name: str) -> dict:
    return outputs(name, V0X)


@pytest.fixture(scope="module")
def tps():
    root()
    keys.read_keys(TPS)  # the hand-derived list must still parse
    m = build_model(TPS).eval()
    m.load_state_dict(state_dict0x(TPS), strict=True)
    return m


@pytest.fixture(scope="module")
def seg():
    m = build_model(SEG).eval()
    m.load_state_dict(state_dict0x(SEG), strict=True)
    return m


@pytest.mark.parametrize("name", [TPS, SEG])
def test_hand_derived_key_lists_equal_the_0x_oracle_keys(name):
    """The key lists derived from MMOCR's sources (tests/handlers/families/mmocr_rec/keys) are MMOCR 0.6.3's."""
    theirs = {}
    for line in (root() / "models" / f"{name}.keys.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, shape = line.split("\t")[:2]
            theirs[key] = tuple(int(s) for s in shape.strip("()").split(",") if s.strip())
    ours = {k: s for k, (s, _) in keys.read_keys(name).items()}
    assert ours == theirs


def tps_logits(model, x):
    return model.decoder.logits(model.backbone(model.preprocessor(x)))


#: the largest allowance of the rectified image and the logits (tests/oracle.py): the TPS solves a
#: float32 linear system, so float32 runs sit far from float64 (ours and the oracle's each about
#: 6e-4 of the magnitude on a 2-core AVX2 AMD EPYC, 2026-12-07, and 2.6e-4 apart); a swapped
#: weight moves the logits 1e-2 or more (test_swapped_weights_exceed_the_tolerance).
TPS_CAP = 1e-3


def test_crnn_tps_logits_and_intermediates(tps):
    out = outputs0x(TPS)
    x = out["inputs"]
    points = one_thread(tps.preprocessor.LocalizationNetwork, x)
    rectified = one_thread(tps.preprocessor, x)
    logits = one_thread(tps_logits, tps, x)
    tps64 = copy.deepcopy(tps).double()
    rectified64 = one_thread(tps64.preprocessor, x.double())
    logits64 = one_thread(tps_logits, tps64, x.double())
    inter = out["intermediate"]
    assert logits.shape == out["raw"].shape == (1, 26, 37)
    check = compare("CRNN-TPS logits", logits, out["raw"], logits64, TPS_CAP)
    print(check)
    assert_parity(compare("fiducial points", points, inter["preprocessor.LocalizationNetwork"]),
                  compare("rectified image", rectified, inter["preprocessor"], rectified64, TPS_CAP), check,
                  # forward() is the softmax of those logits (MMOCR's CTCConvertor applies it)
                  compare("probabilities", one_thread(tps, x), out["raw"].softmax(-1)))


def test_crnn_tps_prediction(tps):
    out = outputs0x(TPS)
    got = tps.postprocess(one_thread(tps, out["inputs"]))[0]
    assert got.text == out["pred"][0]["text"] == "rixr"
    assert got.char_scores == pytest.approx(out["pred"][0]["score"], rel=1e-4)


def test_segocr_logits_and_prediction(seg):
    out = outputs0x(SEG)
    logits = one_thread(seg, out["inputs"])
    assert logits.shape == out["raw"].shape == (1, 38, 64, 256)
    check = compare("SegOCR logits", logits, out["raw"])
    print(check)
    assert_parity(check)
    got = seg.postprocess(logits)[0]
    assert got.text == out["pred"][0]["text"] == "d"
    assert got.char_scores == pytest.approx(out["pred"][0]["score"], rel=1e-4)


def case_file(name: str) -> list[dict]:
    return json.loads((root() / "cases" / name).read_text())["cases"]


def test_ctc_convertor_cases(tps):
    """0.x CTCConvertor: blank first, collapse, ceil(T * valid_ratio) steps, softmax scores."""
    cases = case_file("ctc_convertor_cases.json")
    assert len(cases) == 5
    for case in cases:
        seq = case["argmax_seq"]
        logits = torch.zeros(1, len(seq), 37)
        for t, c in enumerate(seq):
            logits[0, t, c] = 3.0 + 0.25 * (t % 3)
        got = tps.postprocess(logits.softmax(-1), [case["valid_ratio"]])[0]
        assert got.text == case["text"], case["description"]
        assert got.char_scores == pytest.approx(case["score"], rel=1e-6), case["description"]


def test_seg_convertor_cases(seg):
    cases = case_file("seg_convertor_cases.json")
    assert len(cases) == 8
    for case in cases:
        seg_map = torch.zeros(1, 38, 16, 64)
        seg_map[0, 0] = 1.0
        for _, cls, y0, y1, x0, x1 in case["rects"]:
            seg_map[0, cls, y0:y1, x0:x1] = 5.0
        got = seg.postprocess(seg_map, [case["valid_ratio"]])[0]
        assert got.text == case["text"], case["description"]
        assert got.char_scores == pytest.approx(case["score"], rel=1e-6), case["description"]


def preproc(name: str):
    path = root() / "preproc"
    cases = json.loads((path / "preproc_cases.json").read_text())
    source = cv2.imread(str(path / "src_recog_40x130.png"), cv2.IMREAD_COLOR)
    return cases[name], torch.load(path / "preproc.pt")[name].numpy(), source


def test_segocr_test_pipeline_converts_to_rgb(seg):
    """ResizeOCR 64 x 208 then Normalize(to_rgb=True): equal to the 0.6.3 tensor."""
    case, expected, source = preproc(SEG)
    tensor, ratio = preprocess(source, config_of(SEG)["input"])
    assert tensor.shape == expected.shape == (3, 64, 208)
    assert np.abs(tensor - expected).max() < 1e-5
    assert ratio == case["img_metas"]["valid_ratio"]
    # end to end (aug_test: one score, the mean of the characters')
    got = seg.predict(torch.from_numpy(tensor)[None], [ratio])[0]
    want = case["end_to_end_pred (oracle weights)"]
    assert got.text == want["text"] and got.score == pytest.approx(want["score"], rel=1e-4)


def test_crnn_tps_test_pipeline(tps):
    """Grayscale, 32 x 100 without keeping the ratio, (x/255 - 0.5) / 0.5."""
    case, expected, source = preproc(TPS)
    tensor, ratio = preprocess(source, config_of(TPS)["input"])
    assert tensor.shape == expected.shape == (1, 32, 100)
    diff = np.abs(tensor - expected)
    # libpng's grayscale vs ours: one grey level (1/127.5 here) on a few pixels
    assert diff.max() <= 1 / 127.5 + 1e-6 and (diff > 1e-5).mean() < 0.01
    assert ratio == case["img_metas"]["valid_ratio"]
    got = tps.predict(torch.from_numpy(expected)[None], [ratio])[0]
    want = case["end_to_end_pred (oracle weights)"]
    assert got.text == want["text"] == "axi"
    assert got.char_scores == pytest.approx(want["score"], rel=1e-4)
    # our own grayscale tensor reads the same (scores 3e-4 off through the grey level)
    ours = tps.predict(torch.from_numpy(tensor)[None], [ratio])[0]
    assert ours.text == want["text"]
    assert ours.char_scores == pytest.approx(want["score"], rel=1e-3)


# --- the tolerance can fail --------------------------------------------------------------


def test_bgr_normalisation_would_be_caught():
    """The old SegOCR spec (ImageNet mean/std on B, G, R) is far outside the tolerance."""
    _, expected, source = preproc(SEG)
    spec = dict(config_of(SEG)["input"], color="bgr")
    tensor, _ = preprocess(source, spec)
    assert np.abs(tensor - expected).max() > 1.0


@pytest.mark.parametrize("name,key", [
    (TPS, "decoder.decoder.1.embedding.weight"),
    (SEG, "head.pred_conv.weight"),
    (TPS, "preprocessor.LocalizationNetwork.localization_fc2.weight"),
])
def test_swapped_weights_exceed_the_tolerance(name, key):
    sd = state_dict0x(name)
    w = sd[key].clone()
    w[[0, 1]] = w[[1, 0]]  # swap two output rows
    sd[key] = w
    m = build_model(name).eval()
    m.load_state_dict(sd, strict=True)
    out = outputs0x(name)
    got = one_thread(tps_logits, m, out["inputs"]) if name == TPS else one_thread(m, out["inputs"])
    assert mismatches([compare("logits", got, out["raw"])]) and rel_err(got, out["raw"]) > 10 * TPS_CAP
