"""ocr_document in process (real models, no TorchServe): pages in flight at once, page order, photos."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from handlers.ops.image_io import DEFAULT_MAX_PIXELS
from service.tooling.local_backend import LocalBackend
from service.gateway.document_pipeline import DocumentOptions, ocr_document
from service.gateway.pipeline import OcrRequest, run_ocr
from service.gateway.settings import Settings
from tests.conftest import data_path
from tests.document_files import text_pdf

PAGES = [[f"Page {n} of the report", f"line two of page {n}"] for n in range(1, 5)]


class InFlight(LocalBackend):
    """The in-process backend, counting how many detections run at the same time."""

    def __init__(self, zoo):
        super().__init__(zoo)
        self.now = self.most = 0

    async def detect(self, model, data, image, options):
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await super().detect(model, data, image, options)
        finally:
            self.now -= 1


@pytest.fixture(scope="module")
def backend(zoo, weights_ready):
    return InFlight(zoo)


@pytest.fixture(scope="module")
def request_(zoo):
    return OcrRequest(det=zoo.defaults["det"], rec=zoo.defaults["rec"], orient_cls=zoo.defaults["cls"])


@pytest.mark.parametrize("concurrency", [1, 3])
def test_pages_of_one_document_are_in_flight_together_up_to_the_setting(backend, request_, concurrency):
    backend.most = 0
    settings = Settings(page_concurrency=concurrency)
    done = asyncio.run(ocr_document(text_pdf(PAGES, size=16), "application/pdf", DocumentOptions(dpi=72),
                                    request_, backend, settings))
    assert backend.most == concurrency
    pages = done.response["pages"]
    assert [p["page"] for p in pages] == [1, 2, 3, 4] and len(done.images) == 4
    assert [p["result"][0]["text"] for p in pages] == [lines[0] for lines in PAGES]


def test_a_photo_reads_as_before_documents(backend, request_):
    data = data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()
    before = asyncio.run(run_ocr(backend, data, OcrRequest(det=request_.det, rec=request_.rec), DEFAULT_MAX_PIXELS))
    now = asyncio.run(ocr_document(data, "image/jpeg", DocumentOptions(), request_, backend, Settings()))
    page = now.response["pages"][0]
    assert page["rotation"] == 0 and page["text_source"] == "ocr" and "orientation" not in now.response["models"]
    assert {k: page[k] for k in before["pages"][0]} == before["pages"][0]
    assert now.response["document"] == {"type": "image", "page_count": 1}
    np.testing.assert_array_equal(now.images[0].shape, (720, 1280, 3))
