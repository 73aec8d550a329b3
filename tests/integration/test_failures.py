"""Upstream failures seen by the gateway: TorchServe down -> 503, too slow -> 504."""
from __future__ import annotations

import httpx

from service.gateway.settings import Settings
from tests.conftest import data_path
from service.tooling.launch.ports import free_port
from tests.integration.servers import gateway_settings, running_gateway


def _img() -> bytes:
    return data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()


def test_torchserve_down_is_503():
    port = free_port()  # nothing listens there
    settings = Settings(inference_url=f"http://127.0.0.1:{port}", management_url=f"http://127.0.0.1:{port}")
    with running_gateway(settings) as url:
        response = httpx.post(f"{url}/ocr", files={"file": ("a", _img())}, timeout=30)
        assert response.status_code == 503 and "unreachable" in response.json()["message"]
        ready = httpx.get(f"{url}/readyz", timeout=30)
        assert ready.status_code == 503 and ready.json()["ready"] is False


def test_torchserve_too_slow_is_504(torchserve, gateway):
    settings = gateway_settings(torchserve.config, upstream_timeout_s=0.01)
    with running_gateway(settings) as url:
        response = httpx.post(f"{url}/ocr", files={"file": ("a", _img())}, timeout=30)
        assert response.status_code == 504 and response.json()["error"] == "UpstreamTimeout"
    # the slow request did not break the shared TorchServe
    assert gateway.post("/ocr", files={"file": ("a", _img())}).status_code == 200
