"""The seed's calls straight to TorchServe: detection and recognition contracts, batching, errors."""
from __future__ import annotations

import base64

from tests.conftest import data_path


def _img(name: str) -> bytes:
    return data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", name).read_bytes()


def _crops() -> list[tuple[str, bytes]]:
    root = data_path("mmocr", "0.x", "ocr_toy_dataset")
    labels = [line.split(" ", 1) for line in (root / "label.txt").read_text().splitlines()]
    return [(text, (root / "imgs" / name).read_bytes()) for name, text in labels]


def test_detection_raw_body_returns_boundary_result(inference, zoo):
    response = inference.post(f"/predictions/{zoo.defaults['det']}", content=_img("img_10.jpg"))
    assert response.status_code == 200
    boxes = response.json()["boundary_result"]
    assert len(boxes) >= 4 and all(len(b) == 9 for b in boxes)
    # the GT word "HarbourFront" (x 288..417, y 138..161) lies inside one detected line
    assert any(min(b[0:8:2]) <= 290 and max(b[0:8:2]) >= 415 and min(b[1:8:2]) <= 142 and max(b[1:8:2]) >= 157
               for b in boxes)


def test_recognition_single_crop_returns_text_and_score(inference, zoo):
    text, crop = _crops()[3]
    body = inference.post(f"/predictions/{zoo.defaults['rec']}", content=crop).json()
    assert body["text"] == text == "PACIFIC" and 0.5 < body["score"] <= 1


def test_recognition_many_crops_json_and_multipart_in_order(inference, zoo):
    crops = _crops()
    url = f"/predictions/{zoo.defaults['rec']}"
    as_json = inference.post(url, json={"images": [base64.b64encode(c).decode() for _, c in crops]}).json()
    parts = {f"crop{i:02d}": (f"{i}.jpg", c, "image/jpeg") for i, (_, c) in enumerate(crops)}
    as_multipart = inference.post(url, files=parts).json()
    assert len(as_json) == len(crops) and [r["text"] for r in as_json] == [r["text"] for r in as_multipart]
    assert sum(r["text"].lower() == t.lower() for r, (t, _) in zip(as_json, crops)) >= 7


def test_bad_bytes_get_400_and_the_worker_keeps_serving(inference, zoo):
    url = f"/predictions/{zoo.defaults['det']}"
    bad = inference.post(url, content=b"definitely not an image")
    assert bad.status_code == 400 and "decode" in bad.json()["message"]
    truncated = inference.post(url, content=_img("img_1.jpg")[:20_000])
    assert truncated.status_code in (200, 400)
    good = inference.post(url, content=_img("img_1.jpg"))
    assert good.status_code == 200 and good.json()["boundary_result"]


def test_detection_options_as_form_fields(inference, zoo):
    url = f"/predictions/{zoo.defaults['det']}"
    files = {"body": ("img.jpg", _img("img_10.jpg"), "image/jpeg")}
    strict = inference.post(url, files=files, data={"min_text_score": "0.99"})
    loose = inference.post(url, files=files)
    assert strict.status_code == 200
    assert len(strict.json()["boundary_result"]) < len(loose.json()["boundary_result"])
    bad = inference.post(url, files=files, data={"mask_thr": "7"})
    assert bad.status_code == 422 and "mask_thr" in bad.json()["message"]
