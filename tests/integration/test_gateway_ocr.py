"""/ocr through a real TorchServe: parity with the in-process pipeline, document accuracy, inputs."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from rapidfuzz.distance import Levenshtein

from service.tooling.evaluation.clients import local_ocr
from tests.conftest import data_path


def _img(name: str) -> bytes:
    return data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", name).read_bytes()


def _ocr(gateway, data: bytes, **params):
    response = gateway.post("/ocr", params=params, files={"file": ("upload", data, "application/octet-stream")})
    assert response.status_code == 200, response.text
    return response.json()


def _text(body) -> str:
    return " ".join(r["text"] for r in body["pages"][0]["result"])


@pytest.fixture(scope="module")
def in_process(zoo):
    return local_ocr(zoo)


def _assert_same_lines(served: list[dict], local: list[dict]) -> None:
    assert len(served) == len(local) > 0
    for a, b in zip(served, local):
        assert np.abs(np.subtract(a["box"], b["box"])).max() <= 1.0
        assert a["text"] == b["text"]
        assert [w["text"] for w in a["words"]] == [w["text"] for w in b["words"]]


def _words(lines: list[dict]) -> list[list[str]]:
    return [[w["text"] for w in line["words"]] for line in lines]


@pytest.mark.parametrize("name", ["img_1.jpg", "img_7.jpg", "img_10.jpg"])
def test_gateway_equals_in_process_pipeline(gateway, in_process, name):
    _assert_same_lines(_ocr(gateway, _img(name))["pages"][0]["result"], in_process(_img(name))["pages"][0]["result"])


# The in-process pipeline (benchmarks, `ocrserve eval`) builds its request with the gateway's code,
# so /ocr's options reach it and act as they do on the service.
@pytest.mark.parametrize("options", [{"rec_min_score": 0.97, "unclip_ratio": 2.2}, {"word_gap": 0.5, "both_ways": "none"}])
def test_in_process_pipeline_takes_the_options_of_ocr(gateway, in_process, options):
    data = _img("img_10.jpg")
    local = in_process(data, **options)["pages"][0]["result"]
    _assert_same_lines(_ocr(gateway, data, **options)["pages"][0]["result"], local)
    default = in_process(data)["pages"][0]["result"]
    assert _words(local) != _words(default) or [r["box"] for r in local] != [r["box"] for r in default]


def _normalise(text: str) -> str:
    return " ".join(text.split())


def test_phototest_page_character_error_rate_under_two_percent(gateway):
    page = data_path("tesseract", "testing", "phototest.tif").read_bytes()
    truth = _normalise(data_path("tesseract", "testing", "phototest.txt").read_text())
    read = _normalise(_text(_ocr(gateway, page)))
    cer = Levenshtein.distance(read, truth) / len(truth)
    assert cer < 0.02, (cer, read)


def _variant(kind: str) -> bytes:
    """img_10 re-encoded in awkward ways a user might upload."""
    base = Image.open(io.BytesIO(_img("img_10.jpg"))).convert("RGB")
    buf = io.BytesIO()
    if kind == "gray":
        base.convert("L").save(buf, "PNG")
    elif kind == "rgba":
        base.convert("RGBA").save(buf, "PNG")
    elif kind == "png16":
        Image.fromarray((np.asarray(base.convert("L"), np.uint16) * 257)).save(buf, "PNG")
    elif kind == "cmyk":
        base.convert("CMYK").save(buf, "JPEG", quality=95)
    elif kind == "exif":
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 CW to view: store the pixels turned the other way
        base.transpose(Image.Transpose.ROTATE_90).save(buf, "JPEG", quality=95, exif=exif)
    elif kind == "tiff":
        blank = Image.new("RGB", base.size, "white")
        base.save(buf, "TIFF", save_all=True, append_images=[blank])
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["gray", "rgba", "png16", "cmyk", "exif", "tiff"])
def test_awkward_image_encodings_are_read(gateway, kind):
    body = _ocr(gateway, _variant(kind))
    page = body["pages"][0]
    assert (page["width"], page["height"]) == (1280, 720)
    assert "HarbourFront" in _text(body)


def test_bad_input_then_good_input(gateway):
    bad = gateway.post("/ocr", content=b"\x89PNG\r\n\x1a\n garbage", headers={"Content-Type": "image/png"})
    assert bad.status_code == 400 and bad.json()["error"] == "BadImage"
    wrong_type = gateway.post("/ocr", content=b"text", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    unknown = gateway.post("/ocr?rec=nosuch", files={"file": ("a", _img("img_1.jpg"))})
    assert unknown.status_code == 404 and "ppocrv6-small-rec" in unknown.json()["message"]
    assert "HarbourFront" in _text(_ocr(gateway, _img("img_10.jpg")))


def test_blank_page_gives_an_empty_result(gateway):
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), "white").save(buf, "PNG")
    assert _ocr(gateway, buf.getvalue())["pages"][0]["result"] == []


def test_health_and_readiness(gateway, zoo):
    assert gateway.get("/healthz").json() == {"status": "ok"}
    ready = gateway.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["models"] == {name: "READY" for name in zoo.default_names()}


def test_text_direction_classifier_reads_upside_down_lines(gateway):
    upside_down = Image.open(io.BytesIO(_img("img_10.jpg"))).rotate(180)
    buf = io.BytesIO()
    upside_down.save(buf, "PNG")
    assert "HarbourFront" not in _text(_ocr(gateway, buf.getvalue(), cls="false"))
    with_cls = _ocr(gateway, buf.getvalue(), cls="true")
    assert "HarbourFront" in _text(with_cls) and with_cls["models"]["cls"] == "text-direction"
