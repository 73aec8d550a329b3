"""Text, hOCR, ALTO and searchable PDF renderings of a laid-out page, parsed back."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from service.gateway.formats import FORMATS, render
from service.gateway.layout import analyse_page
from service.tooling.synth.pages import make_page
from tests.formats_check import check_alto, check_hocr, check_pdf


def _words(line) -> list[dict]:
    """Word boxes by character count along the line (the format code only carries them)."""
    x0, y0, x1, y1 = line.box
    words, out, at = line.text.split(), [], 0
    per_char = (x1 - x0) / max(len(line.text), 1)
    for word in words:
        start = line.text.index(word, at)
        at = start + len(word)
        a, b = x0 + start * per_char, x0 + at * per_char
        out.append({"box": [a, y0, b, y0, b, y1, a, y1], "text": word, "text_score": 0.5 + 0.5 * (len(word) % 2)})
    return out


@pytest.fixture(scope="module")
def document():
    """Two generated pages (2 and 3 columns) as /ocr would answer, and their images (BGR)."""
    pages, images = [], []
    for n, columns in enumerate((2, 3), 1):
        synth = make_page(n, columns, size=(1000, 1400), body_px=18)
        result = [{"box": [ln.box[0], ln.box[1], ln.box[2], ln.box[1], ln.box[2], ln.box[3], ln.box[0], ln.box[3]],
                   "box_score": 0.9, "text": ln.text, "text_score": 0.9, "words": _words(ln)} for ln in synth.lines]
        pages.append({"page": n, "width": 1000, "height": 1400, **analyse_page(result)})
        images.append(np.asarray(synth.image)[..., ::-1])
    return {"pages": pages, "models": {"det": "dbnet", "rec": "ppocrv6-small-rec"}, "timings_ms": {}}, images


def test_text_is_the_reading_order_text_one_page_per_form_feed(document):
    response, _ = document
    body, media_type = render("text", response)
    assert media_type.startswith("text/plain")
    assert body.decode().rstrip("\n").split("\f") == [p["text"] for p in response["pages"]]


def test_hocr_parses_back_to_the_same_words_and_boxes(document):
    body, media_type = render("hocr", document[0])
    assert media_type == "application/xhtml+xml"
    check_hocr(body, document[0])


def test_alto_parses_back_to_the_same_words_and_boxes(document):
    body, media_type = render("alto", document[0])
    assert media_type == "application/xml"
    check_alto(body, document[0])


def test_pdf_text_layer_sits_on_the_word_boxes(document):
    body, media_type = render("pdf", *document)
    assert media_type == "application/pdf" and body.startswith(b"%PDF-")
    check_pdf(body, document[0])


def test_the_checks_catch_a_moved_word(document):
    """The parse-back checks are not vacuous: one word 10 px off fails each of them."""
    moved = copy.deepcopy(document[0])
    word = moved["pages"][1]["blocks"][2]["paragraphs"][0]["lines"][0]["words"][0]
    word["box"] = [v + 10 for v in word["box"]]
    for fmt, check in (("hocr", check_hocr), ("alto", check_alto), ("pdf", check_pdf)):
        body, _ = render(fmt, *document)
        with pytest.raises(AssertionError):
            check(body, moved)


def test_a_page_without_layout_renders_its_lines():
    """Responses stored before the layout existed (no `blocks`) still render."""
    line = {"box": [10, 10, 200, 10, 200, 40, 10, 40], "box_score": 0.9, "text": "Hello world", "text_score": 0.8}
    response = {"pages": [{"page": 1, "width": 300, "height": 100, "result": [line]}]}
    for fmt in FORMATS:
        body, _ = render(fmt, response, [np.full((100, 300, 3), 255, np.uint8)])
        assert body
    check_hocr(render("hocr", response)[0], response)
    check_pdf(render("pdf", response)[0], response)


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="one of json, text, hocr, alto, pdf"):
        render("docx", {"pages": []})
