"""SegOCR (MMOCR 0.x seg_r31_1by16_fpnocr_academic): key list from the 0.x sources, strict
load, output map shape, and the character-map post-processing on constructed maps."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from handlers.families.mmocr_rec import available, build_model, config_of
from handlers.families.mmocr_rec.segocr import seg_decode

from . import keys

NAME = "seg_r31_1by16_fpnocr_academic"
CHARS = ["<BG>"] + list("0123456789abcdefghijklmnopqrstuvwxyz") + ["<UKN>"]
UKN = len(CHARS) - 1


def cls(char: str) -> int:
    return CHARS.index(char)


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    m = build_model(NAME).eval()
    m.load_state_dict(keys.regenerate(NAME, m.state_dict()), strict=True)
    return m


def test_registered_with_the_0x_test_pipeline_numbers():
    assert NAME in available()
    spec = config_of(NAME)["input"]
    assert (spec["height"], spec["min_width"], spec["width_divisor"]) == (64, 64, 16)
    assert spec["mean"] == [123.675, 116.28, 103.53] and spec["color"] == "rgb"  # to_rgb=True


def test_key_list_matches_and_loads_strictly():
    m = build_model(NAME)
    keys.check_matches(m, NAME)
    m.load_state_dict(keys.regenerate(NAME, m.state_dict()), strict=True)


def test_class_map_has_the_input_resolution(model):
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(x)
        single = model(x[1:])
    assert logits.shape == (2, 38, 64, 96)
    torch.testing.assert_close(logits[1:], single, rtol=1e-4, atol=1e-4)
    assert [r.text for r in model.predict(x)] == [r.text for r in model.postprocess(logits)]


def test_sizes_not_divisible_by_16_are_refused(model):
    with pytest.raises(ValueError, match="multiples of 16"):
        model(torch.randn(1, 3, 64, 72))


def word_map() -> np.ndarray:
    """'c' at the right but highest (first in raster order), 'a' left, 'b' middle with some
    'k' pixels, a 15-pixel 'z' speck, and an unknown-class blob."""
    m = np.zeros((32, 80), np.int32)
    m[2:8, 60:66] = cls("c")        # 36 px, centroid x 62.5
    m[10:20, 4:10] = cls("a")       # 60 px, centroid x 6.5
    m[12:22, 30:34] = cls("b")      # 40 px ...
    m[12:22, 34:35] = cls("k")      # ... + 10 px 'k' in the same component: b, 40/50
    m[25:28, 45:50] = cls("z")      # 15 px: dropped (< 20)
    m[24:30, 72:78] = UKN           # 36 px unknown, right of 'c'
    return m


def test_characters_read_left_to_right_with_their_pixel_shares():
    r = seg_decode(word_map(), CHARS, UKN)
    assert r.text == "abc"
    # the unknown blob reads as no character but keeps its score (MMOCR's convertor)
    assert r.char_scores == pytest.approx([1.0, 0.8, 1.0, 1.0])


def test_majority_below_the_minimum_area_is_dropped_even_if_the_blob_is_large():
    m = np.zeros((20, 40), np.int32)
    m[2:5, 2:7] = cls("x")      # 15 px
    m[5:7, 2:7] = cls("y")      # 10 px, touching: one 25-px blob whose majority has 15
    m[2:8, 20:25] = cls("7")    # 30 px
    assert seg_decode(m, CHARS, UKN).text == "7"
    assert seg_decode(m, CHARS, UKN, min_area=10).text == "x7"


def test_diagonal_neighbours_are_one_component():
    m = np.zeros((20, 40), np.int32)
    m[2:7, 2:7] = cls("q")       # 25 px
    m[7:12, 7:11] = cls("r")     # 20 px touching q only at a corner (8-connectivity)
    r = seg_decode(m, CHARS, UKN)
    assert (r.text, r.char_scores) == ("q", pytest.approx([25 / 45]))


def test_empty_map_reads_nothing():
    r = seg_decode(np.zeros((16, 16), np.int32), CHARS, UKN)
    assert (r.text, r.char_scores, r.score) == ("", [], 0.0)


def test_postprocess_takes_the_argmax_and_the_valid_columns(model):
    m = word_map()
    logits = torch.from_numpy(np.eye(38, dtype=np.float32)[m]).permute(2, 0, 1)[None] * 5
    assert model.postprocess(logits)[0].text == "abc"
    # int(80 * 0.5 + 1) = 41 columns: 'a' and 'b' (x <= 34) stay, 'c' and the unknown go
    half = model.postprocess(logits, [0.5])[0]
    assert (half.text, half.char_scores) == ("ab", pytest.approx([1.0, 0.8]))
