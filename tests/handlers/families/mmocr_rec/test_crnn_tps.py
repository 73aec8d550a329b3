"""CRNN-TPS (MMOCR 0.x crnn_tps_academic_dataset): key list from the 0.x sources, TPS grid
maths against an independent bilinear resampler, CRNN part against the oracle CRNN weights,
0.x blank-first class order in decoding."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from handlers.families.mmocr_rec import available, build_model, config_of
from handlers.families.mmocr_rec.crnn_tps import fiducial_points, rare_initial_points
from tests.oracle import outputs, state_dict

from . import keys

NAME = "crnn_tps_academic_dataset"
CRNN = "crnn_mini-vgg_5e_mj"


def blank_first(sd: dict) -> dict:
    """1.x CRNN weights (blank last) -> 0.x class order (blank first)."""
    out = dict(sd)
    for key in ("decoder.decoder.1.embedding.weight", "decoder.decoder.1.embedding.bias"):
        out[key] = torch.cat([sd[key][-1:], sd[key][:-1]])
    return out


def resample(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear samples of (H, W) ``img`` at the rectified grid's pixel centres mapped with
    align_corners=True: column j -> (2j + 1) / (2 width) * (W - 1)."""
    h, w = img.shape
    ys = (2 * np.arange(height) + 1) / (2 * height) * (h - 1)
    xs = (2 * np.arange(width) + 1) / (2 * width) * (w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


@pytest.fixture(scope="module")
def model():
    """Formula weights, the oracle CRNN for backbone/decoder, localisation -> identity points."""
    torch.set_num_threads(1)
    m = build_model(NAME).eval()
    sd = keys.regenerate(NAME, m.state_dict())
    sd.update(blank_first(state_dict(CRNN)))
    sd["preprocessor.LocalizationNetwork.localization_fc2.weight"].zero_()
    sd["preprocessor.LocalizationNetwork.localization_fc2.bias"] = torch.from_numpy(
        fiducial_points(20)).float().view(-1)
    m.load_state_dict(sd, strict=True)
    return m


def test_registered_with_the_0x_test_pipeline():
    assert NAME in available()
    assert config_of(NAME)["input"] == {"channels": 1, "height": 32, "width": 100,
                                        "mean": [127.5], "std": [127.5], "color": "grayscale"}


def test_key_list_matches_and_loads_strictly():
    m = build_model(NAME)
    keys.check_matches(m, NAME)
    m.load_state_dict(keys.regenerate(NAME, m.state_dict()), strict=True)


def test_localisation_starts_at_rares_points():
    loc = build_model(NAME).eval().preprocessor.LocalizationNetwork
    with torch.no_grad():
        points = loc(torch.randn(2, 1, 32, 100))
    want = torch.from_numpy(rare_initial_points(20)).float().expand(2, -1, -1)
    torch.testing.assert_close(points, want, rtol=0, atol=0)
    assert want[0, 0].tolist() == [-1.0, 0.0] and want[0, 10].tolist() == [-1.0, 1.0]


def test_identity_points_give_the_pixel_grid(model):
    """The TPS through C' = C is the identity; float32 buffers keep it to ~1e-5."""
    ctrl = torch.from_numpy(fiducial_points(20)).float()[None]
    grid = model.preprocessor.GridGenerator.build_P_prime(ctrl)[0]
    cols, rows = np.meshgrid((2 * np.arange(100) + 1) / 100 - 1, (2 * np.arange(32) + 1) / 32 - 1)
    want = np.stack([cols, rows], axis=2).reshape(-1, 2)
    np.testing.assert_allclose(grid.double().numpy(), want, rtol=0, atol=2e-5)


@pytest.mark.parametrize("shape", [(32, 100), (48, 160), (20, 64)])
def test_identity_points_rectify_to_the_input_resampled(model, shape):
    rows, cols = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    img = np.sin(0.31 * cols) + np.cos(0.23 * rows) + 0.01 * cols  # smooth: grid error stays small
    x = torch.from_numpy(img).float()[None, None]
    with torch.no_grad():
        got = model.preprocessor(x)[0, 0].double().numpy()
    want = resample(img, 32, 100)
    assert got.shape == (32, 100)
    np.testing.assert_allclose(got, want, rtol=0, atol=3e-4)


def test_with_identity_points_it_reads_what_plain_crnn_reads(model):
    x = outputs(CRNN)["inputs"]  # (1, 1, 32, 128): rectified to 32 x 100
    crnn = build_model(CRNN).eval()
    crnn.load_state_dict(state_dict(CRNN), strict=True)
    resampled = torch.from_numpy(resample(x[0, 0].double().numpy(), 32, 100)).float()
    with torch.no_grad():
        probs = model(x)
        plain = crnn(resampled[None, None])
    torch.testing.assert_close(probs[..., 0], plain[..., -1], rtol=1e-3, atol=1e-4)  # blank
    torch.testing.assert_close(probs[..., 1:], plain[..., :-1], rtol=1e-3, atol=1e-4)
    got, want = model.postprocess(probs)[0], crnn.postprocess(plain)[0]
    assert got.text == want.text and len(got.text) > 0
    assert got.char_scores == pytest.approx(want.char_scores, abs=1e-4)


def test_decoding_reads_index_0_as_the_blank(model):
    steps = [0, 1, 1, 0, 2, 2, 0, 0, 2, 11]  # 0.x order: blank, then the 36 characters
    probs = torch.full((1, len(steps), 37), 0.01)
    for t, c in enumerate(steps):
        probs[0, t, c] = 0.6 + 0.01 * t
    chars = model.dictionary.dict
    r = model.postprocess(probs)[0]
    assert r.text == chars[0] + chars[1] + chars[1] + chars[10]
    assert r.char_scores == pytest.approx([0.61, 0.64, 0.68, 0.69])
    assert model.postprocess(probs, [0.5])[0].text == chars[0] + chars[1]


def test_a_checkpoint_is_served_by_the_recognition_handler(model, tmp_path):
    """The unchanged handler archives, loads and reads crops with it, as predict() does."""
    import json

    import cv2

    from handlers.predictors.mmocr_rec import preprocess
    from tests.conftest import FakeContext, data_path
    from tests.handlers.checkpoints import served

    path = tmp_path / "crnn_tps.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {}}, path)
    handler = served("mytps", NAME, path, tmp_path)
    crops = sorted(data_path("mmocr", "0.x", "ocr_toy_dataset", "imgs").glob("*.jpg"))[:3]
    got = [json.loads(out) for out in handler.handle(
        [{"body": p.read_bytes()} for p in crops], FakeContext(tmp_path))]
    for crop, read in zip(crops, got):
        tensor, ratio = preprocess(cv2.imread(str(crop)), config_of(NAME)["input"])
        want = model.predict(torch.from_numpy(tensor)[None], [ratio])[0]
        assert read["text"] == want.text
        assert read["score"] == pytest.approx(want.score, abs=1e-5)
    assert any(read["text"] for read in got)
