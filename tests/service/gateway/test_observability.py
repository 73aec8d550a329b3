"""Request ids, Prometheus metrics and JSON log lines of the gateway."""
from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from service.tooling.local_backend import LocalBackend
from service.gateway.main import create_app
from service.gateway.observability import JsonFormatter, request_id
from service.gateway.settings import Settings
from tests.conftest import data_path


@pytest.fixture(scope="module")
def client(zoo, weights_ready):
    with TestClient(create_app(Settings(), backend=LocalBackend(zoo))) as c:
        yield c


def _sample(metrics_text: str, prefix: str) -> float:
    lines = [line for line in metrics_text.splitlines() if line.startswith(prefix)]
    assert lines, prefix
    return float(lines[0].rsplit(" ", 1)[1])


def test_request_id_is_kept_or_made(client):
    kept = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert kept.headers["X-Request-Id"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert len(made.headers["X-Request-Id"]) == 32 and made.headers["X-Request-Id"] != "bad id with spaces"


def test_metrics_count_requests_by_route_and_status_and_time_stages(client):
    image = data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()
    assert client.post("/ocr", files={"file": ("a", image)}).status_code == 200
    assert client.post("/ocr", content=b"nope", headers={"Content-Type": "image/png"}).status_code == 400
    text = client.get("/metrics").text
    assert _sample(text, 'ocrserve_requests_total{route="/ocr",status="200"}') >= 1
    assert _sample(text, 'ocrserve_requests_total{route="/ocr",status="400"}') >= 1
    assert _sample(text, 'ocrserve_stage_seconds_count{stage="detect"}') >= 1
    assert _sample(text, 'ocrserve_stage_seconds_count{stage="recognize"}') >= 1
    assert _sample(text, "ocrserve_in_flight_requests") == 1  # the scrape itself


def test_json_log_lines_carry_the_request_id():
    record = logging.LogRecord("ocrserve.access", logging.INFO, __file__, 1, "request", None, None)
    record.fields = {"status": 200, "route": "/ocr"}
    token = request_id.set("rid-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["request_id"] == "rid-1" and line["status"] == 200 and line["msg"] == "request"
