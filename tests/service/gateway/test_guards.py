"""Admission control, the error net, /kie input limits and the header timeout, without TorchServe."""
from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from service.tooling.local_backend import LocalBackend
from service.gateway.guards import Admission, admission_middleware, error_net
from service.gateway.main import create_app
from service.tooling.launch.runner import run_settings, torchserve_config
from service.gateway.settings import Settings
from service.tooling.launch.ports import free_port
from tests.integration.servers import running_gateway

GOOD = {"instances": [{"box": [550, 104, 937, 190], "text": "SAFEWAY"},
                      {"box": [100, 900, 300, 950], "text": "TOTAL"}], "width": 1600, "height": 1200}


@pytest.fixture(scope="module")
def client(zoo, weights_ready):
    with TestClient(create_app(Settings(), backend=LocalBackend(zoo))) as c:
        yield c


def _nested(depth: int) -> bytes:
    return b'{"instances": ' + b"[" * depth + b"]" * depth + b"}"


def _one(box, text) -> bytes:
    return json.dumps({"instances": [{"box": box, "text": text}]}).encode()


@pytest.mark.parametrize("body, status, words", [
    (_nested(100_000), 422, "nested too deeply"),
    (b'{"instances": [{"box": [1, 2, 3, 4], "text": "\\ud800"}]}', 400, "surrogate"),
    (_one([1e308, 0, 1e308, 10], "x"), 400, "finite and within"),
    (b'{"instances": [{"box": [NaN, 0, 1, 1], "text": "x"}]}', 400, "finite"),
    (b'{"instances": [{"box": [0, 0, Infinity, 1], "text": "x"}]}', 400, "finite"),
    (_one([0, 0, 10, 10], "a" * 1_000_000), 413, "over the limit of 1000"),
    (json.dumps({"instances": [{"box": [0, 0, 1, 1], "text": "x"}] * 10_001}).encode(), 413, "10001 instances"),
    (b'{"instances": [{"box": [0, 0, 1, 1], "text": "x"}], "model": {"a": 1}}', 422, "model must be a string"),
    (b'{"instances": [{"box": "0,0,1,1", "text": "x"}]}', 400, "box must be 4 numbers"),
    (b'{"instances": [{"box": [0, 0, 1, 1]}]}', 400, "no text"),
])
def test_hostile_kie_bodies_get_a_json_4xx(client, body, status, words):
    response = client.post("/kie", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["status"] == status and words in payload["message"], payload


def test_a_good_kie_request_still_labels(client):
    response = client.post("/kie", json=GOOD)
    assert response.status_code == 200, response.text
    assert [i["text"] for i in response.json()["instances"]] == ["SAFEWAY", "TOTAL"]


def test_the_worker_refuses_the_same_inputs():
    from handlers.api.errors import BadRequest, PayloadTooLarge
    from handlers.kie import parse_instances

    for box, text, status, error in (([1e308, 0, 1, 1], "x", 400, BadRequest),
                                     ([0, 0, 1, 1], "a" * 1001, 413, PayloadTooLarge)):
        with pytest.raises(error) as caught:
            parse_instances([{"box": box, "text": text}], 300)
        assert caught.value.status == status
    assert parse_instances([{"box": [0, 0, 1e6, 1], "text": "a" * 1000}], 300)[1] == ["a" * 1000]


def test_admission_sheds_past_the_queue_and_after_the_wait():
    async def scenario():
        gate = Admission(max_in_flight=1, max_queued=1, queue_timeout_s=0.3)
        assert await gate.acquire()  # runs
        waiting = asyncio.ensure_future(gate.acquire())  # queues
        await asyncio.sleep(0.05)
        start = time.perf_counter()
        assert not await gate.acquire()  # queue full: shed at once
        assert time.perf_counter() - start < 0.05
        assert not await waiting  # waited its 0.3 s, then shed
        queued = asyncio.ensure_future(gate.acquire())
        await asyncio.sleep(0.05)
        gate.release()
        assert await queued  # a freed slot goes to the queue
        gate.release()
        assert gate.running == 0 and gate.waiting == 0

    asyncio.run(scenario())


def test_admission_limits_follow_the_cores_unless_given():
    derived = Admission.for_capacity(None, None, 10, cores=2)
    assert (derived.max_in_flight, derived.max_queued) == (2, 2)  # one running and one waiting per core
    given = Admission.for_capacity(4, 0, 10, cores=2)
    assert (given.max_in_flight, given.max_queued) == (4, 0)
    assert Admission.for_capacity(None, 1, 10, cores=8).max_in_flight == 8


def test_the_optional_wait_ratio_bounds_the_queue_by_the_fastest_recent_service():
    async def scenario():
        gate = Admission(max_in_flight=1, max_queued=4, queue_timeout_s=10, queue_wait_ratio=0.5)
        assert gate.wait_limit_s() == 10  # nothing served yet
        for held in (0.4, 0.2, 0.6):
            assert await gate.acquire()
            gate.release(held)
        assert gate.wait_limit_s() == pytest.approx(0.1)  # half the fastest, 0.2 s
        assert await gate.acquire()
        start = time.perf_counter()
        assert not await gate.acquire()  # waited 0.1 s, not the 10 s timeout
        assert 0.08 < time.perf_counter() - start < 1
        assert Admission(1, 4, 10).wait_limit_s() == 10  # off by default

    asyncio.run(scenario())


def test_retry_after_is_the_time_to_drain_what_is_admitted():
    async def scenario():
        gate = Admission(max_in_flight=2, max_queued=2, queue_timeout_s=10)
        assert gate.retry_after_s() == 10  # nothing measured yet: the longest a request may wait
        for _ in range(2):
            assert await gate.acquire()
        gate.release(3.0)
        assert await gate.acquire()
        gate.release(3.0)
        assert gate.service_s == pytest.approx(3.0) and gate.running == 1
        waiting = [asyncio.ensure_future(gate.acquire()) for _ in range(3)]
        await asyncio.sleep(0.01)
        assert gate.retry_after_s() == 6  # 3 s each for 2 running + 2 waiting, on 2 slots
        for future in waiting:
            future.cancel()

    asyncio.run(scenario())


def test_shed_requests_get_503_with_retry_after_and_reads_are_never_shed(zoo, weights_ready):
    app = create_app(Settings(max_in_flight=1, max_queued=0, queue_timeout_s=2), backend=LocalBackend(zoo))
    with TestClient(app) as c:
        app.state.admission.running = 1  # as if a pipeline request held the only slot
        shed = c.post("/kie", json=GOOD)
        assert shed.status_code == 503 and shed.headers["retry-after"] == "2"
        assert shed.json()["error"] == "Overloaded"
        assert c.get("/healthz").status_code == 200
        app.state.admission.running = 0
        assert c.post("/kie", json=GOOD).status_code == 200


def test_an_unmapped_exception_is_a_json_500_without_internals():
    async def broken(scope, receive, send):
        raise KeyError("/secret/path/in/the/trace")

    app = admission_middleware(error_net(broken), admission=Admission(1, 0, 1))
    response = TestClient(app, raise_server_exceptions=True).post("/ocr")
    assert response.status_code == 500
    assert response.json()["error"] == "InternalError" and "secret" not in response.text


def test_ocrserve_run_always_guards_torchserve_management(tmp_path):
    for flag in (False, True):
        settings = run_settings(Settings(ts_token_auth=flag, run_dir=tmp_path, max_pixels=123_456))
        config = torchserve_config(settings, ["dbnet"])
        assert "disable_token_authorization=false" in config.properties()
        assert config.workers_env["OCRSERVE_MAX_PIXELS"] == "123456"


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    sock.settimeout(seconds)
    start = time.perf_counter()
    try:
        return time.perf_counter() - start if sock.recv(1) == b"" else None
    except ConnectionResetError:
        return time.perf_counter() - start
    except TimeoutError:
        return None


def test_slow_and_idle_clients_are_dropped_while_others_are_served():
    port = free_port()  # nothing behind the gateway: /healthz needs no TorchServe
    settings = Settings(inference_url=f"http://127.0.0.1:{port}", management_url=f"http://127.0.0.1:{port}",
                        header_timeout_s=1.0, keep_alive_timeout_s=1.0)
    with running_gateway(settings) as url:
        gw_port = int(url.rsplit(":", 1)[1])
        idle = socket.create_connection(("127.0.0.1", gw_port))
        slow = socket.create_connection(("127.0.0.1", gw_port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        for _ in range(3):  # a header byte now and then does not keep it open
            time.sleep(0.3)
            slow.sendall(b"X")
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        assert _closed_within(idle, 3) is not None
        assert _closed_within(slow, 3) is not None
        with httpx.Client(base_url=url) as keep:  # a normal keep-alive client is unaffected
            assert [keep.get("/healthz").status_code for _ in range(3)] == [200] * 3
        idle.close()
        slow.close()


def test_unknown_paths_and_methods_answer_in_the_error_schema(client):
    for response, status in ((client.get("/nope"), 404), (client.delete("/ocr"), 405)):
        assert response.status_code == status
        body = response.json()
        assert body["status"] == status and body["error"] and body["message"], body
        assert response.headers["x-content-type-options"] == "nosniff"


def test_a_page_with_more_text_regions_than_the_limit_is_refused(zoo, weights_ready):
    from tests.conftest import data_path

    page = data_path("tesseract", "testing", "phototest.tif").read_bytes()  # 8 lines
    with TestClient(create_app(Settings(max_lines=5), backend=LocalBackend(zoo))) as c:
        refused = c.post("/ocr", params={"rec": "none"}, files={"file": ("p.tif", page)})
        assert refused.status_code == 413 and "OCRSERVE_MAX_LINES" in refused.json()["message"], refused.text
    with TestClient(create_app(Settings(max_lines=8), backend=LocalBackend(zoo))) as c:
        assert c.post("/ocr", params={"rec": "none"}, files={"file": ("p.tif", page)}).status_code == 200


def test_the_connection_stays_open_after_refused_bodies():
    import http.client

    port = free_port()  # the checks answer before any TorchServe call
    settings = Settings(inference_url=f"http://127.0.0.1:{port}", management_url=f"http://127.0.0.1:{port}")
    with running_gateway(settings) as url:
        conn = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=10)
        conn.connect()
        sock = conn.sock
        for body in (_nested(100_000), _one([1e308, 0, 1, 1], "x"), b'{"instances": [{"box": [0,0,1,1], "text": "\\ud800"}]}'):
            conn.request("POST", "/kie", body=body, headers={"content-type": "application/json"})
            response = conn.getresponse()
            assert 400 <= response.status < 500 and json.loads(response.read())["status"] == response.status
            assert response.getheader("connection") != "close" and conn.sock is sock
        conn.close()
