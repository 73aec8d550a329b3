"""Tesseract as detector and recogniser: pure helpers, and the handlers on Tesseract's own test pages."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from handlers.api.errors import BadOptions
from handlers.predictors.tesseract import TesseractConfig, check_language, installed_languages, line_read
from tests.conftest import FakeContext, data_path, handle_rows


def test_check_language_accepts_installed_combinations_and_lists_them_otherwise():
    assert check_language("eng", ["deu", "eng"]) == "eng"
    assert check_language("eng+deu", ["deu", "eng"]) == "eng+deu"
    with pytest.raises(BadOptions) as err:
        check_language("fra", ["deu", "eng"])
    assert err.value.status == 422 and "fra" in err.value.message and "installed: deu, eng" in err.value.message
    for bad in ("../eng", "eng+", "", 3):  # no path tricks reach Tesseract
        with pytest.raises(BadOptions):
            check_language(bad, ["eng"])


def test_installed_languages_skips_osd(tmp_path):
    for name in ("eng", "osd", "deu"):
        (tmp_path / f"{name}.traineddata").write_bytes(b"x")
    assert installed_languages(tmp_path) == ["deu", "eng"]
    assert installed_languages(tmp_path / "missing") == []


def test_config_refuses_unknown_keys_and_levels():
    with pytest.raises(ValueError, match="unknown"):
        TesseractConfig.from_dict({"langs": "eng"})
    with pytest.raises(ValueError, match="level"):
        TesseractConfig.from_dict({"level": "block"})


def test_line_read_joins_words_and_maps_spans_to_the_unpadded_crop():
    # a 100 px wide crop padded by 10 px: Tesseract's x is in the padded image
    words = [[("H", 10, 20, 0.9), ("i", 20, 25, 0.7)], [("y", 60, 70, 0.8)], [("!", 108, 115, 0.6)]]
    read = line_read(words, pad=10, width=100)
    assert read.text == "Hi y !"
    assert read.score == pytest.approx((0.9 + 0.7 + 0.8 + 0.6) / 4)
    assert read.chars[0] == ("H", 0.0, 0.1, 0.9)
    assert read.chars[2] == (" ", 0.15, 0.5, 1.0)  # spaces span the gap between words
    assert read.chars[-1][2] == 1.0  # clipped to the crop
    assert line_read([], 4, 50).text == "" and line_read([], 4, 50).score == 0.0


# ------------------------------------------------------------ real Tesseract through the handlers


@pytest.fixture(scope="module")
def tesseract_zoo(zoo):
    pytest.importorskip("tesserocr")
    for name in ("tesseract-det", "tesseract-rec"):
        if not zoo.get(name).installed():
            pytest.skip("Tesseract's language data is not installed (scripts/setup_tesseract.sh)")
    return zoo


def _entry(tmp_path_factory, zoo, name):
    from handlers.ts_entry import OcrServeEntry
    from service.tooling.packaging.archive import stage_model_files

    model_dir = tmp_path_factory.mktemp(name)
    weights = stage_model_files(zoo.get(name), model_dir)
    os.symlink(weights, model_dir / weights.name)
    entry = OcrServeEntry()
    entry.initialize(FakeContext(model_dir))
    return entry


@pytest.fixture(scope="module")
def det(tmp_path_factory, tesseract_zoo):
    return _entry(tmp_path_factory, tesseract_zoo, "tesseract-det")


@pytest.fixture(scope="module")
def rec(tmp_path_factory, tesseract_zoo):
    return _entry(tmp_path_factory, tesseract_zoo, "tesseract-rec")


def test_detector_finds_the_eight_lines_of_phototest(det):
    page = data_path("tesseract", "testing", "phototest.tif").read_bytes()
    [body], ctx = handle_rows(det, [{"body": bytearray(page)}])
    assert ctx.status == {}
    lines = body["boundary_result"]
    truth = [t for t in data_path("tesseract", "testing", "phototest.txt").read_text().splitlines() if t.strip()]
    assert len(lines) == len(truth) == 8
    tops = [row[1] for row in lines]
    assert tops == sorted(tops)  # top to bottom, one box per line, not overlapping
    assert all(b[1] > a[5] - 2 for a, b in zip(lines, lines[1:]))
    assert all(0.8 < row[-1] <= 1 for row in lines)
    [words], _ = handle_rows(det, [{"body": bytearray(page), "level": "word"}])
    assert sum(len(t.split()) for t in truth) - 2 <= len(words["boundary_result"]) <= sum(len(t.split()) for t in truth) + 2


def test_detector_refuses_a_missing_language_and_a_bad_level(det):
    page = data_path("tesseract", "testing", "HelloGoogle.tif").read_bytes()
    out, ctx = handle_rows(det, [{"body": bytearray(page), "lang": "klingon"}, {"body": bytearray(page), "level": "page"},
                           {"body": bytearray(page)}])
    assert ctx.status[0][0] == 422 and "installed: eng" in out[0]["message"]
    assert ctx.status[1][0] == 422 and "level" in out[1]["message"]
    assert 2 not in ctx.status and len(out[2]["boundary_result"]) == 1  # the good neighbour still runs


def test_recogniser_reads_hello_google_with_char_spans(rec):
    crop = data_path("tesseract", "testing", "HelloGoogle.tif").read_bytes()
    [body], ctx = handle_rows(rec, [{"body": bytearray(crop), "positions": "true"}])
    assert ctx.status == {}
    assert body["text"] == "Hello Google" and body["score"] > 0.8
    spans = [c for c in body["chars"] if c[0] != " "]
    assert [c[0] for c in spans] == list("HelloGoogle")
    assert all(a[1] <= b[1] for a, b in zip(spans, spans[1:])) and spans[0][1] < 0.2 < 0.8 < spans[-1][2]


def test_recogniser_lang_option_and_batch(rec):
    crop = cv2.imencode(".png", cv2.imread(str(data_path("tesseract", "testing", "HelloGoogle.tif"))))[1].tobytes()
    out, ctx = handle_rows(rec, [{"body": bytearray(crop), "lang": "eng"}, {"body": bytearray(crop), "lang": "xx"},
                           {"body": bytearray(crop)}])
    assert out[0]["text"] == out[2]["text"] == "Hello Google"
    assert ctx.status[1][0] == 422 and "installed: eng" in out[1]["message"]
    # a blank crop reads as nothing (Tesseract alone "reads" 'Oo' there with 0.84 confidence)
    blank = np.full((30, 80, 3), 255, np.uint8)
    blank[10:12, 10:12] = 250  # a little noise, under the contrast floor
    [empty], ctx = handle_rows(rec, [{"body": bytearray(cv2.imencode(".png", blank)[1].tobytes())}])
    assert ctx.status == {} and empty == {"text": "", "score": 0.0}


def test_recogniser_survives_elements_without_text(rec):
    # Tesseract finds no text in this receipt crop (a header line over a half-cut one), and
    # tesserocr raised "No text returned" for it: now an empty read, not a 500
    from handlers.ops.crop import crop_quad, quad_for_polygon

    image = cv2.imread(str(data_path("sroie2019_train", "img", "045.jpg")))
    quad = quad_for_polygon(np.asarray([[338, 543], [656, 543], [656, 572], [338, 572]], np.float32))
    crop = crop_quad(image, quad).image
    [body], ctx = handle_rows(rec, [{"body": bytearray(cv2.imencode(".png", crop)[1].tobytes())}])
    assert ctx.status == {} and body == {"text": "", "score": 0.0}, body
