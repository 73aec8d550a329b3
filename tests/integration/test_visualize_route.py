"""POST /visualize and GET /catalog through the real gateway and TorchServe."""
from __future__ import annotations

import io

import httpx
import numpy as np
from PIL import Image

from service.gateway.visualize import LINE_RGB
from tests import document_files
from tests.conftest import data_path


def _post(gateway, path, data: bytes, **params):
    return gateway.post(path, params=params, files={"file": ("upload.jpg", data, "application/octet-stream")})


def test_catalog_lists_the_loaded_models_without_a_key(gateway, torchserve, zoo):
    response = gateway.get("/catalog")  # no Authorization header: public
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["defaults"] == dict(zoo.defaults)
    loaded = {m["modelName"] for m in httpx.get(f"{torchserve.config.management_url}/models").json()["models"]}
    for task in ("det", "rec", "cls", "kie"):  # other tests may have loaded more models: ask TorchServe too
        assert body["tasks"][task] == sorted(n for n in zoo.names(task) if n in loaded)
        assert zoo.defaults[task] in body["tasks"][task]


def test_visualize_draws_every_line_of_the_ocr_answer(gateway):
    data = data_path("mmocr", "demo", "demo_text_ocr.jpg").read_bytes()
    response = _post(gateway, "/visualize", data, text="side")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    drawn = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
    original = Image.open(io.BytesIO(data))
    assert drawn.shape == (original.height, original.width * 2, 3)  # the image and the text page beside it
    lines = _post(gateway, "/ocr", data).json()["pages"][0]["result"]
    for line in lines:  # the top-left vertex of every line polygon carries the line colour
        x, y = round(line["box"][0]), round(line["box"][1])
        patch = drawn[max(0, y - 1):y + 2, max(0, x - 1):x + 2].reshape(-1, 3)
        assert (patch == LINE_RGB).all(axis=1).any(), (line["text"], patch)
    right = drawn[:, original.width:]
    assert (right.min(axis=2) < 80).mean() > 0.002  # text was written on the right-hand page


def test_visualize_refuses_a_non_image_with_the_api_error(gateway):
    response = _post(gateway, "/visualize", b"these are not pixels")
    assert response.status_code == 400
    assert response.json()["error"] == "BadImage"


def test_visualize_refuses_unknown_drawing_options(gateway):
    data = data_path("mmocr", "demo", "demo_text_recog.jpg").read_bytes()
    response = _post(gateway, "/visualize", data, text="sideways")
    assert response.status_code == 422
    assert "text" in response.json()["message"]


def _two_pages() -> tuple[np.ndarray, np.ndarray]:
    """Two real photos (BGR) as the pages of the documents below: page 2 is the larger one."""
    first = np.asarray(Image.open(data_path("mmocr", "demo", "demo_text_recog.jpg")).convert("RGB"))[:, :, ::-1]
    second = np.asarray(Image.open(data_path("mmocr", "demo", "demo_text_ocr.jpg")).convert("RGB"))[:, :, ::-1]
    return first, second


def _png(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def test_visualize_draws_the_chosen_page_of_a_pdf(gateway):
    pdf = document_files.image_pdf(_two_pages(), dpi=200)
    page2 = document_files.render(pdf, 2, dpi=100)[:, :, ::-1]  # RGB, as the gateway renders it at dpi=100
    plain = _png(_post(gateway, "/visualize", pdf, page=2, dpi=100, draw="false"))
    assert np.array_equal(plain, page2)  # the page itself, no OCR drawn on it
    drawn = _png(_post(gateway, "/visualize", pdf, page=2, dpi=100, text="none", orientation="none"))
    assert drawn.shape == page2.shape
    lines = _post(gateway, "/ocr", pdf, pages="2", dpi=100, orientation="none").json()["pages"][0]["result"]
    assert len(lines) >= 3
    for line in lines:
        x, y = round(line["box"][0]), round(line["box"][1])
        patch = drawn[max(0, y - 1):y + 2, max(0, x - 1):x + 2].reshape(-1, 3)
        assert (patch == LINE_RGB).all(axis=1).any(), (line["text"], patch)


def test_visualize_picks_a_frame_of_a_multi_page_tiff(gateway):
    first, second = _two_pages()
    tiff = document_files.tiff([first, second])
    assert np.array_equal(_png(_post(gateway, "/visualize", tiff, page=2, draw="false")), second[:, :, ::-1])
    assert np.array_equal(_png(_post(gateway, "/visualize", tiff, draw="false")), first[:, :, ::-1])  # default 1


def test_visualize_page_out_of_range_names_the_page_count(gateway):
    pdf = document_files.image_pdf(_two_pages(), dpi=200)
    for draw in ("true", "false"):
        response = _post(gateway, "/visualize", pdf, page=3, draw=draw)
        assert response.status_code == 422, response.text
        assert "the document has 2 page(s)" in response.json()["message"]
    assert _post(gateway, "/visualize", pdf, page=0).status_code == 422
    image = data_path("mmocr", "demo", "demo_text_recog.jpg").read_bytes()
    response = _post(gateway, "/visualize", image, page=2)
    assert response.status_code == 422 and "1 page(s)" in response.json()["message"]
