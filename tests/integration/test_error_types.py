"""A worker's error keeps its type through the gateway's TorchServe client (one hierarchy, one shape)."""
from __future__ import annotations

import asyncio
import base64

import pytest

from handlers.api.errors import BadImage, BadOptions, OcrServeError
from service.gateway.torchserve_client import TorchServeClient
from tests.conftest import data_path


def _predict(torchserve, model: str, **kwargs):
    async def call():
        client = TorchServeClient(torchserve.config.inference_url, torchserve.config.management_url)
        try:
            return await client.predict(model, **kwargs)
        finally:
            await client.aclose()
    return asyncio.run(call())


@pytest.mark.parametrize("kwargs, error, status, words", [
    ({"fields": {"mask_thr": "7"}}, BadOptions, 422, "mask_thr"),
    ({"content": b"definitely not an image"}, BadImage, 400, "decode"),
])
def test_the_workers_error_type_reaches_the_gateway(torchserve, inference, zoo, kwargs, error, status, words):
    image = data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()
    model = zoo.defaults["det"]
    with pytest.raises(OcrServeError) as caught:
        _predict(torchserve, model, **{"content": image, **kwargs})
    assert type(caught.value) is error and caught.value.status == status and words in caught.value.message
    # the worker wrote the same JSON the gateway answers with
    url = f"/predictions/{model}"
    raw = (inference.post(url, files={"body": ("i", image)}, data=kwargs["fields"]) if "fields" in kwargs
           else inference.post(url, content=kwargs["content"]))
    assert raw.status_code == status and raw.json() == caught.value.to_json()


def test_the_worker_reads_url_safe_base64(torchserve, zoo):
    root = data_path("mmocr", "0.x", "ocr_toy_dataset")
    name, text = (root / "label.txt").read_text().splitlines()[3].split(" ", 1)
    crop = (root / "imgs" / name).read_bytes()
    encoded = [base64.b64encode(crop).decode(), base64.urlsafe_b64encode(crop).decode().rstrip("=")]
    reads = _predict(torchserve, zoo.defaults["rec"], json_body={"images": encoded})
    assert reads[0] == reads[1] and reads[0]["text"].lower() == text.lower()
