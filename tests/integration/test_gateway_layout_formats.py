"""Layout, reading order and output formats through a real TorchServe, and the same in-process."""
from __future__ import annotations

import io

import pytest
from rapidfuzz.distance import Levenshtein

from service.tooling.evaluation.clients import local_ocr
from service.gateway.formats import render
from service.tooling.synth.pages import make_page
from tests.conftest import data_path
from tests.formats_check import check_alto, check_hocr, check_pdf


def _norm(text: str) -> str:
    return " ".join(text.split())


def _post(gateway, data: bytes, **params):
    response = gateway.post("/ocr", params=params, files={"file": ("upload", data, "application/octet-stream")})
    assert response.status_code == 200, response.text
    return response


@pytest.fixture(scope="module")
def phototest():
    return data_path("tesseract", "testing", "phototest.tif").read_bytes()


@pytest.fixture(scope="module")
def phototest_json(gateway, phototest):
    return _post(gateway, phototest).json()


def test_phototest_text_keeps_its_two_paragraphs(gateway, phototest, phototest_json):
    page = phototest_json["pages"][0]
    truth = data_path("tesseract", "testing", "phototest.txt").read_text()
    assert Levenshtein.distance(_norm(page["text"]), _norm(truth)) / len(_norm(truth)) < 0.02
    assert page["text"].split("\n\n")[0].endswith("of file format.")
    assert [len(b["paragraphs"]) for b in page["blocks"]] == [2]
    text = _post(gateway, phototest, format="text")
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == render("text", phototest_json)[0].decode()


@pytest.mark.parametrize("fmt", ["hocr", "alto", "pdf"])
def test_formats_parse_back_to_the_json_answer(gateway, phototest, phototest_json, fmt):
    response = _post(gateway, phototest, format=fmt)
    assert response.headers["content-type"].split(";")[0] == render(fmt, phototest_json)[1]
    check = {"hocr": check_hocr, "alto": check_alto, "pdf": check_pdf}[fmt]
    check(response.content, phototest_json)


def test_unknown_format_is_a_422(gateway, phototest):
    response = gateway.post("/ocr", params={"format": "docx"}, files={"file": ("a", phototest)})
    assert response.status_code == 422 and "format" in response.text


def test_two_column_page_is_read_column_by_column(gateway):
    page = make_page(11, 2, size=(1000, 1400), body_px=18)  # smaller than A4 at 150 dpi: a quicker test
    buf = io.BytesIO()
    page.image.save(buf, "PNG")
    body = _post(gateway, buf.getvalue()).json()["pages"][0]
    truth = _norm(page.text)
    cer = Levenshtein.distance(_norm(body["text"]), truth) / len(truth)
    by_result = _norm(" ".join(line["text"] for line in body["result"]))
    assert cer < 0.03 and Levenshtein.distance(by_result, truth) / len(truth) < 0.03, cer
    assert [b["kind"] for b in body["blocks"]][:2] == ["text", "table"]


def test_in_process_pipeline_gives_the_same_layout(zoo, phototest, phototest_json):
    local = local_ocr(zoo)(phototest)["pages"][0]
    served = phototest_json["pages"][0]
    assert local["text"] == served["text"]
    shape = lambda page: [[len(p["lines"]) for p in b["paragraphs"]] for b in page["blocks"]]  # noqa: E731
    assert shape(local) == shape(served)
    assert [ln["index"] for b in local["blocks"] for p in b["paragraphs"] for ln in p["lines"]] \
        == list(range(len(local["result"])))


def test_street_sign_photo_is_one_block(gateway):
    """EasyOCR's street sign: three panels of Chinese, numbers and English read as one block."""
    body = _post(gateway, data_path("easyocr", "examples", "chinese.jpg").read_bytes()).json()["pages"][0]
    assert len(body["blocks"]) == 1
    assert body["text"].splitlines()[-1] == "W Yuyuan Rd. E"
