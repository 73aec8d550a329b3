"""TorchServe with token auth on: the gateway keeps working across key expiry and a restart."""
from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import data_path
from tests.integration.servers import gateway_settings, running_gateway, running_torchserve, torchserve_config

MODELS = ["ppocrv6-tiny-det", "ppocrv6-tiny-rec"]
QUERY = {"det": "ppocrv6-tiny-det", "rec": "ppocrv6-tiny-rec"}


def _ocr(url: str) -> httpx.Response:
    image = data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()
    return httpx.post(f"{url}/ocr", params=QUERY, files={"file": ("a", image)}, timeout=60)


@pytest.fixture(scope="module")
def secured(tmp_path_factory, archives_ready):
    config = torchserve_config(tmp_path_factory.mktemp("ts-auth"), MODELS, token_auth=True,
                               token_expiration_min=0.1)
    with running_torchserve(config) as server:
        yield server


def test_keys_are_required_by_torchserve(secured):
    response = httpx.get(f"{secured.config.management_url}/models", timeout=10)
    assert response.status_code == 400 and "Token" in response.text


def test_gateway_survives_expiry_and_restart(secured):
    with running_gateway(gateway_settings(secured.config)) as url:
        first = _ocr(url)
        assert first.status_code == 200, first.text
        time.sleep(7)  # keys expire after 0.1 min
        stale = httpx.get(f"{secured.config.management_url}/models", timeout=10,
                          headers=secured.management_headers())
        assert stale.status_code == 400  # the key in the file has expired
        assert _ocr(url).status_code == 200  # the gateway renewed it
        secured.stop()
        secured.start()  # a new TorchServe writes new keys
        secured.wait_ready(timeout=240)
        response = _ocr(url)
        assert response.status_code == 200, response.text
        assert "HarbourFront" in " ".join(r["text"] for r in response.json()["pages"][0]["result"])
