"""The gateway's HTTP contract with the models running in-process (no TorchServe needed)."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from service.tooling.local_backend import LocalBackend
from service.gateway.main import create_app
from service.gateway.settings import Settings
from tests.conftest import data_path


@pytest.fixture(scope="module")
def client(zoo, weights_ready):
    settings = Settings(max_upload_bytes=2 * 1024 * 1024, max_pixels=20_000_000)
    with TestClient(create_app(settings, backend=LocalBackend(zoo))) as c:
        yield c


def _img10() -> bytes:
    return data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()


def _png(array: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", array)
    return buf.tobytes()


def test_multipart_and_raw_body_give_the_same_answer(client):
    multipart = client.post("/ocr", files={"file": ("a.jpg", _img10(), "image/jpeg")})
    raw = client.post("/ocr", content=_img10(), headers={"Content-Type": "image/jpeg"})
    assert multipart.status_code == raw.status_code == 200
    a, b = multipart.json(), raw.json()
    assert a["pages"] == b["pages"]
    texts = " ".join(r["text"] for r in a["pages"][0]["result"])
    assert "HarbourFront" in texts
    assert a["models"] == {"det": "dbnet-ic15", "rec": "ppocrv6-small-rec-ic15"}  # a street photo: the zoo's photo route
    assert {"decode", "detect", "recognize", "total"} <= set(a["timings_ms"])


def test_detection_only_and_recognition_only(client):
    det_only = client.post("/ocr?rec=none", files={"file": ("a.jpg", _img10())}).json()
    lines = det_only["pages"][0]["result"]
    assert lines and all("text" not in r or r["text"] is None for r in lines)
    crop = data_path("mmocr", "0.x", "ocr_toy_dataset", "imgs", "1223729.jpg").read_bytes()
    rec_only = client.post("/ocr", params={"det": "none"}, files={"file": ("w.jpg", crop)}).json()
    [line] = rec_only["pages"][0]["result"]
    assert line["text"] == "PACIFIC"


def test_form_fields_carry_options(client):
    body = client.post("/ocr", files={"file": ("a.jpg", _img10())}, data={"rec": "none", "min_text_score": "0.99"})
    strict = len(body.json()["pages"][0]["result"])
    loose = len(client.post("/ocr?rec=none", files={"file": ("a.jpg", _img10())}).json()["pages"][0]["result"])
    assert body.status_code == 200 and strict < loose


@pytest.mark.parametrize("kwargs, status, words", [
    ({"content": b"hello, not an image", "headers": {"Content-Type": "image/png"}}, 400, "decode"),
    ({"content": b"{}", "headers": {"Content-Type": "application/json"}}, 415, "content type"),
    ({"content": b"\0" * (3 * 1024 * 1024), "headers": {"Content-Type": "image/png"}}, 413, "limit"),
    ({"files": {"other": ("x", b"", "text/plain")}, "data": {}}, 400, "empty"),
])
def test_bad_uploads_get_clear_errors(client, kwargs, status, words):
    response = client.post("/ocr", **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and words in body["message"].lower()


def test_too_many_pixels_is_413(client):
    huge = Image.new("L", (6000, 4000), 255)  # 24 MP, compresses to a few KB
    buf = io.BytesIO()
    huge.save(buf, "PNG")
    response = client.post("/ocr", content=buf.getvalue(), headers={"Content-Type": "image/png"})
    assert response.status_code == 413 and "megapixels" in response.json()["message"]


@pytest.mark.parametrize("query, status, words", [
    ("det=nosuch", 404, "available: dbnet"),
    ("rec=dbnet", 404, "unknown rec model"),
    ("mask_thr=2", 422, "mask_thr"),
    ("limit_side_len=abc", 422, "limit_side_len"),
    ("bogus=1", 422, "bogus"),
])
def test_bad_options(client, query, status, words):
    response = client.post(f"/ocr?{query}", files={"file": ("a.jpg", _img10())})
    assert response.status_code == status, response.text
    assert words in response.json()["message"]


def test_blank_image_is_an_empty_result(client):
    response = client.post("/ocr", content=_png(np.full((200, 300, 3), 255, np.uint8)),
                           headers={"Content-Type": "image/png"})
    assert response.status_code == 200 and response.json()["pages"][0]["result"] == []


def test_management_routes_are_off_without_an_admin_key(client):
    response = client.get("/models")
    assert response.status_code == 403 and "OCRSERVE_ADMIN_KEY" in response.json()["message"]


def test_openapi_documents_ocr(client):
    spec = client.get("/openapi.json").json()
    assert "/ocr" in spec["paths"] and "multipart/form-data" in str(spec["paths"]["/ocr"])
    assert client.get("/healthz").json() == {"status": "ok"}


def test_the_recognisers_zoo_floor_drops_unsure_lines_unless_the_request_says_otherwise(client, zoo):
    floor = zoo.get("ppocrv6-small-rec").min_score
    assert floor == 0.8  # measured on ICDAR 2015 val photos and receipts (README, issue 13)
    default = client.post("/ocr", files={"file": ("a.jpg", _img10())}).json()["pages"][0]["result"]
    everything = client.post("/ocr?rec_min_score=0", files={"file": ("a.jpg", _img10())}).json()["pages"][0]["result"]
    assert all(r["text_score"] >= floor for r in default)
    unsure = [r for r in everything if r["text_score"] < floor]
    assert unsure and len(default) == len(everything) - len(unsure)
