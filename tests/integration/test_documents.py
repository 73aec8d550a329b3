"""Documents through the real gateway and TorchServe: PDFs, TIFF pages, orientation, text layer,
hostile files; and the in-process backend giving the same pages."""
from __future__ import annotations

import asyncio
import tempfile

import cv2
import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from service.tooling.evaluation.clients import local_ocr
from service.gateway.document_pipeline import DocumentOptions, ocr_document
from service.gateway.pipeline import OcrRequest
from service.gateway.settings import Settings
from tests.conftest import data_path
from tests.document_files import (empty_pages_pdf, encrypted_pdf, image_pdf, nested_pdf, render, text_pdf,
                                  tiff)

PARAGRAPH = [
    "Documents arrive as scanned pages, often",
    "sideways or upside down, and small print",
    "must still be read: 1234 invoices, 56 forms.",
    "The quick brown fox jumps over the lazy dog.",
]
PHOTOTEST = ["phototest.tif", "phototest-rotated-L.png", "phototest-rotated-R.png",
             "phototest-rotated-180.png", "phototestrot.tif"]


def _text(page: dict) -> str:
    return " ".join(" ".join(r["text"] for r in page["result"]).split())


def _cer(read: str, truth: str) -> float:
    return 100.0 * Levenshtein.distance(read, truth) / max(1, len(truth))


def _post(gateway, data: bytes, content_type: str = "application/pdf", multipart: bool = True, **params):
    if multipart:
        return gateway.post("/ocr", params=params, files={"file": ("doc", data, content_type)})
    return gateway.post("/ocr", params=params, content=data, headers={"Content-Type": content_type})


def _ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def _turned_scans() -> tuple[bytes, list[int]]:
    """Our own page, scanned at 150 dpi and turned 0, 90 (left), 180, 270 degrees: a 4-page PDF,
    and the rotation that makes each page upright again."""
    upright = render(text_pdf([PARAGRAPH], size=10), dpi=150)
    turns = [None, cv2.ROTATE_90_COUNTERCLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_CLOCKWISE]
    pages = [upright if t is None else cv2.rotate(upright, t) for t in turns]
    return image_pdf(pages, dpi=150), [0, 90, 180, 270]


@pytest.fixture(scope="module")
def turned_pdf():
    return _turned_scans()


@pytest.fixture(scope="module")
def served_turned(gateway, turned_pdf):
    """The turned pages through the gateway, once for the tests below."""
    return _ok(_post(gateway, turned_pdf[0]))


def test_phototest_rotated_copies_come_back_upright_with_the_same_text(gateway):
    frames = [cv2.imread(str(data_path("tesseract", "testing", name)), cv2.IMREAD_COLOR) for name in PHOTOTEST]
    body = _ok(_post(gateway, tiff(frames), "image/tiff"))
    assert body["document"] == {"type": "tiff", "page_count": 5}  # no dpi: not a PDF
    pages = body["pages"]
    assert [p["page"] for p in pages] == [1, 2, 3, 4, 5]
    assert [p["rotation"] for p in pages] == [0, 90, 270, 180, 90]
    assert all((p["width"], p["height"]) == (640, 480) for p in pages)  # sizes of the turned pages
    truth = " ".join(data_path("tesseract", "testing", "phototest.txt").read_text().split())
    upright = _cer(_text(pages[0]), truth)
    assert upright < 2.0
    for page in pages[1:]:
        assert abs(_cer(_text(page), truth) - upright) <= 0.5, (page["page"], _text(page))


def test_own_pages_turned_four_ways_read_like_the_upright_one(served_turned, turned_pdf):
    rotations = turned_pdf[1]
    body = served_turned
    assert body["document"]["type"] == "pdf" and body["document"]["page_count"] == 4
    pages = body["pages"]
    assert [p["rotation"] for p in pages] == rotations
    truth = " ".join(PARAGRAPH)
    upright = _cer(_text(pages[0]), truth)
    assert upright < 3.0, _text(pages[0])
    for page in pages[1:]:
        assert abs(_cer(_text(page), truth) - upright) <= 0.5, (page["page"], _text(page))
    # boxes are in the turned (upright) page: every line lies inside its width x height
    for page in pages:
        xs = [v for r in page["result"] for v in r["box"][0::2]]
        assert max(xs) <= page["width"] and page["width"] < page["height"]


def test_orientation_none_reads_a_turned_page_badly(gateway, turned_pdf):
    """The control: without turning, the sideways page is not read (so the test above can fail)."""
    data, _ = turned_pdf
    # both_ways=none too: the default both_ways=tall re-reads sideways lines turned the other way,
    # which reads a page turned 90 or 270 degrees even without the page orientation
    page = _ok(_post(gateway, data, pages="2", orientation="none", both_ways="none"))["pages"][0]
    text = _text(page)  # nonsense, or nothing at all once the score floor drops it
    assert page["rotation"] == 0 and (not text.strip() or _cer(text, " ".join(PARAGRAPH)) > 50), text


def test_raw_pdf_body_with_a_page_selection(gateway):
    data = text_pdf([["First page here"], ["Second page words"], ["Third page text"]], size=14)
    body = _ok(_post(gateway, data, multipart=False, pages="2-3", dpi="100", text_layer="ocr"))
    assert body["document"] == {"type": "pdf", "page_count": 3, "dpi": 100.0}
    assert [p["page"] for p in body["pages"]] == [2, 3]
    assert [(p["width"], p["height"]) for p in body["pages"]] == [(850, 1100)] * 2  # letter at 100 dpi
    assert [_text(p) for p in body["pages"]] == ["Second page words", "Third page text"]
    assert all(p["text_source"] == "ocr" for p in body["pages"])


def test_text_layer_use_returns_the_pdf_text_where_ocr_reads_it(gateway):
    data = text_pdf([PARAGRAPH], size=10)
    used = _ok(_post(gateway, data, text_layer="use"))["pages"][0]
    assert used["text_source"] == "text_layer" and [r["text"] for r in used["result"]] == PARAGRAPH
    assert "detect" not in _ok(_post(gateway, data, text_layer="use"))["timings_ms"]
    assert _ok(_post(gateway, data, text_layer="auto"))["pages"][0]["result"] == used["result"]
    read = _ok(_post(gateway, data))["pages"][0]
    assert read["text_source"] == "ocr" and _cer(_text(read), " ".join(PARAGRAPH)) < 3.0
    # the PDF's word boxes and OCR's word boxes of the same words overlap
    ocr_words = {w["text"]: w["box"] for r in read["result"] for w in r["words"]}
    hits = 0
    for word in (w for r in used["result"] for w in r["words"]):
        if word["text"] in ocr_words:
            cx, cy = np.mean(ocr_words[word["text"]][0::2]), np.mean(ocr_words[word["text"]][1::2])
            box = word["box"]
            hits += box[0] <= cx <= box[2] and box[1] <= cy <= box[5]
    assert hits >= 20


def test_text_layer_auto_runs_ocr_on_a_scanned_page(gateway, turned_pdf):
    data, _ = turned_pdf
    page = _ok(_post(gateway, data, pages="1", text_layer="auto"))["pages"][0]
    assert page["text_source"] == "ocr" and "quick brown fox" in _text(page)


def _hostile() -> list[tuple[str, bytes, str, dict, int, str]]:
    good = text_pdf([["hello"]])
    return [
        ("png bytes as pdf", b"\x89PNG\r\n\x1a\n" + bytes(64), "application/pdf", {}, 400, "not a PDF"),
        ("truncated", good[: len(good) * 2 // 3], "application/pdf", {}, 400, "truncated"),
        ("encrypted", encrypted_pdf(good), "application/pdf", {}, 422, "encrypted with a password"),
        ("10,000 empty pages", empty_pages_pdf(10_000), "application/pdf", {}, 413, "limit of 200 pages"),
        ("giant page", empty_pages_pdf(1, (20_000, 20_000)), "application/pdf", {}, 413, "megapixels per page"),
        ("500-frame tiff", tiff([np.full((16, 16, 3), 255, np.uint8)] * 500), "image/tiff", {}, 413,
         "500 pages selected"),
        ("bad pages", good, "application/pdf", {"pages": "2"}, 422, "out of range"),
        ("use on an image", tiff([np.zeros((8, 8, 3), np.uint8)]), "image/tiff", {"text_layer": "use"}, 422,
         "needs a PDF"),
    ]


def test_hostile_documents_get_a_clear_4xx_and_leave_no_temporary_file(gateway, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # multipart spools big parts here
    for name, data, content_type, params, status, message in _hostile():
        for multipart in (True, False):
            response = _post(gateway, data, content_type, multipart=multipart, **params)
            assert response.status_code == status, (name, multipart, response.text)
            # a multipart part's own content type is not passed on: non-PDF bytes there are
            # judged as an image (still a 400 naming what is wrong)
            expected = "not a supported image format" if name == "png bytes as pdf" and multipart else message
            assert expected in response.json()["message"], (name, response.text)
    # a deep-nesting 'bomb' and 3 chosen pages of the 10,000 are within limits: processed
    assert [p["result"] for p in _ok(_post(gateway, nested_pdf(100_000)))["pages"]] == [[]]
    chosen = _ok(_post(gateway, empty_pages_pdf(10_000), pages="1-2,9999", dpi="72"))
    assert [p["page"] for p in chosen["pages"]] == [1, 2, 9999]
    assert list(tmp_path.iterdir()) == []
    assert gateway.get("/readyz").status_code == 200


def test_in_process_backend_gives_the_same_document(served_turned, zoo, turned_pdf):
    """Pages 1-2 (upright and turned 90) in process equal the same pages served by TorchServe."""
    backend = local_ocr(zoo).backend
    request = OcrRequest(det=zoo.defaults["det"], rec=zoo.defaults["rec"], orient_cls=zoo.defaults["cls"])
    local = asyncio.run(ocr_document(turned_pdf[0], "application/pdf", DocumentOptions(pages="1-2"), request,
                                     backend, Settings()))
    served = {**served_turned, "pages": served_turned["pages"][:2]}
    assert local.response["models"] == served["models"]
    assert [im.shape[:2] for im in local.images] == [(p["height"], p["width"]) for p in served["pages"]]
    assert [p["rotation"] for p in local.response["pages"]] == [0, 90]
    for a, b in zip(served["pages"], local.response["pages"], strict=True):
        assert (a["page"], a["rotation"], a["width"], a["height"]) == (b["page"], b["rotation"], b["width"],
                                                                      b["height"])
        assert [r["text"] for r in a["result"]] == [r["text"] for r in b["result"]]
        assert np.abs(np.subtract([r["box"] for r in a["result"]], [r["box"] for r in b["result"]])).max() <= 1.0
