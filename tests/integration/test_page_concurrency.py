"""Pages of one document reach TorchServe together, up to the setting: a relay between the real
gateway and the real TorchServe counts the prediction calls in flight, for /ocr and for /jobs."""
from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager
from typing import Iterator

import httpx
import pytest
import uvicorn

from service.tooling.launch.ports import free_port
from tests.document_files import text_pdf
from tests.integration.servers import gateway_settings, running_gateway, wait_healthy

PAGES = [[f"Page {n} of the report", f"line two of page {n}"] for n in range(1, 7)]
PAGE_CONCURRENCY = 2  # below the page count, so the bound shows as well as the overlap


class CountingRelay:
    """An ASGI app forwarding every request to `upstream` as it came, counting the calls in
    flight per path and keeping the most seen at once."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        path = scope["path"]
        self.now[path] += 1
        self.most[path] = max(self.most[path], self.now[path])
        try:
            async with httpx.AsyncClient(base_url=self.upstream, timeout=120) as client:
                answer = await client.request(scope["method"], path, content=body,
                                              params=scope["query_string"].decode(),
                                              headers=[(k.decode(), v.decode()) for k, v in scope["headers"]
                                                       if k.lower() not in (b"host", b"content-length")])
        finally:
            self.now[path] -= 1
        headers = [(k.encode(), v.encode()) for k, v in answer.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")]
        await send({"type": "http.response.start", "status": answer.status_code,
                    "headers": [*headers, (b"content-length", str(len(answer.content)).encode())]})
        await send({"type": "http.response.body", "body": answer.content})


@contextmanager
def running_relay(relay: CountingRelay) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(relay, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "relay never started"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture(scope="module")
def relayed(torchserve, tmp_path_factory):
    """(gateway client, relay): a gateway whose TorchServe calls all pass through the relay."""
    relay = CountingRelay(torchserve.config.inference_url)
    with running_relay(relay) as relay_url:
        settings = gateway_settings(torchserve.config, inference_url=relay_url, page_concurrency=PAGE_CONCURRENCY,
                                    jobs_page_concurrency=PAGE_CONCURRENCY, jobs_dir=tmp_path_factory.mktemp("jobs"))
        with running_gateway(settings) as url:
            wait_healthy(url, 30)
            with httpx.Client(base_url=url, timeout=120) as client:
                yield client, relay


def _detections(relay: CountingRelay, zoo) -> int:
    return relay.most[f"/predictions/{zoo.defaults['det']}"]


def test_pages_of_one_ocr_request_are_detected_together_up_to_page_concurrency(relayed, zoo):
    client, relay = relayed
    relay.most.clear()
    response = client.post("/ocr", params={"dpi": 72}, content=text_pdf(PAGES, size=16),
                           headers={"Content-Type": "application/pdf"})
    assert response.status_code == 200, response.text
    assert [p["result"][0]["text"] for p in response.json()["pages"]] == [lines[0] for lines in PAGES]
    # one page at a time would show 1; more than the setting would mean the bound is not applied
    assert _detections(relay, zoo) == PAGE_CONCURRENCY, dict(relay.most)


def test_pages_of_one_job_are_detected_together_up_to_page_concurrency(relayed, zoo):
    client, relay = relayed
    relay.most.clear()
    job = client.post("/jobs", params={"dpi": 72}, content=text_pdf(PAGES, size=16),
                      headers={"Content-Type": "application/pdf"})
    assert job.status_code == 202, job.text
    deadline = time.monotonic() + 120
    while (state := client.get(f"/jobs/{job.json()['id']}").json())["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state["state"] == "done", state
    assert _detections(relay, zoo) == PAGE_CONCURRENCY, dict(relay.most)
    client.delete(f"/jobs/{job.json()['id']}")


def test_the_default_recogniser_serves_with_two_workers(torchserve, zoo):
    """Recognition is most of a document page's work: one worker would hold a PDF to one core."""
    described = httpx.get(f"{torchserve.config.management_url}/models/{zoo.defaults['rec']}",
                          headers=torchserve.management_headers(), timeout=10).json()[0]
    assert len([w for w in described["workers"] if w["status"] == "READY"]) >= 2
