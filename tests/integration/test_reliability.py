"""The fast parts of the reliability suite (bench/reliability): a corpus sample, a short soak,
and worker / frontend faults on a TorchServe of their own."""
from __future__ import annotations

import asyncio
import os
import signal
import time

import cv2
import httpx
import numpy as np
import psutil
import pytest

from bench.reliability import corpus
from bench.reliability.checks import read_texts, run_cases
from bench.reliability.load import closed_loop
from service.tooling.launch.supervisor import Supervisor
from service.tooling.launch.torchserve_process import TorchServe
from tests.conftest import data_path
from tests.integration.conftest import ADMIN_KEY
from tests.integration.servers import gateway_settings, running_gateway, running_torchserve, torchserve_config

FAULT_MODELS = ["ppocrv6-tiny-det", "ppocrv6-tiny-rec"]
FAULT_QUERY = {"det": FAULT_MODELS[0], "rec": FAULT_MODELS[1]}


def _photo() -> bytes:
    return data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()


def _photos() -> list[bytes]:
    return [data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", f"img_{i}.jpg").read_bytes() for i in (1, 10, 5)]


def _worker_pids(torchserve: TorchServe) -> set[int]:
    return {p.pid for p in psutil.Process(torchserve.process.pid).children(recursive=True) if p.name() != "java"}


def test_corpus_sample_gets_no_server_error_and_leaves_the_service_reading(torchserve, gateway):
    photo = _photo()
    sample = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)[200:330, 300:560, ::-1].copy()
    every = corpus.cases(sample, per_format=3, random_count=20)
    picked = every[::7]  # ~50 cases, each kind of attack represented
    assert len(every) > 250 and len(picked) > 40
    expected = read_texts(gateway, photo)
    assert isinstance(expected, list) and expected
    workers = _worker_pids(torchserve)
    tmp = torchserve.config.run_dir / "tmp"
    files_before = {p for p in tmp.rglob("*") if p.is_file()}
    verdict = run_cases(gateway, picked, ADMIN_KEY, photo, expected, every=20)
    assert verdict.problems() == []
    assert verdict.good_checks >= 3 and verdict.sent >= 40
    assert _worker_pids(torchserve) == workers  # no worker died and was replaced
    assert {p for p in tmp.rglob("*") if p.is_file()} <= files_before


def test_short_soak_leaks_nothing(torchserve, gateway):
    url = str(gateway.base_url).rstrip("/")
    images = _photos()
    asyncio.run(closed_loop(url, images, 4, 3))  # warm-up
    procs = [psutil.Process(torchserve.process.pid), *psutil.Process(torchserve.process.pid).children(recursive=True)]
    before = [(p.memory_info().rss, p.num_fds(), p.num_threads()) for p in procs]
    run = asyncio.run(closed_loop(url, images, 4, 10))
    after = [(p.memory_info().rss, p.num_fds(), p.num_threads()) for p in procs]
    assert run.errors() == [] and len(run.ok()) >= 4
    for proc, (rss0, fds0, threads0), (rss1, fds1, threads1) in zip(procs, before, after):
        # The Java frontend's heap grows towards its -Xmx at its own pace: RSS is checked on the
        # Python workers, where a leak would be ours.
        assert proc.name() == "java" or rss1 < rss0 * 1.10, (proc.cmdline()[:2], rss0 / 2**20, rss1 / 2**20)
        assert fds1 <= fds0 + 2 and threads1 <= threads0 + 2, (proc.cmdline()[:2], fds0, fds1, threads0, threads1)


@pytest.fixture(scope="module")
def supervised(tmp_path_factory, archives_ready):
    """A TorchServe of its own (token auth on, as `ocrserve run` has it), supervised, and a gateway."""
    config = torchserve_config(tmp_path_factory.mktemp("ts-faults"), FAULT_MODELS, token_auth=True)
    with running_torchserve(config) as server:
        supervisor = Supervisor(server, poll_s=0.2)
        supervisor.start()
        try:
            with running_gateway(gateway_settings(config)) as url:
                yield server, supervisor, url
        finally:
            supervisor.stop()


def _describe(server: TorchServe, model: str) -> list[dict]:
    response = httpx.get(f"{server.config.management_url}/models/{model}", headers=server.management_headers(),
                         timeout=10)
    return response.json()[0]["workers"] if response.status_code == 200 else []


def _ocr(url: str) -> int:
    try:
        return httpx.post(f"{url}/ocr", params=FAULT_QUERY, files={"file": ("a", _photo())}, timeout=60).status_code
    except httpx.HTTPError:
        return -1


def _wait(predicate, timeout: float) -> float:
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, "did not recover"
        time.sleep(0.2)
    return time.monotonic() - start


def test_a_killed_worker_fails_only_its_request_and_is_replaced(supervised):
    server, _, url = supervised
    workers = _describe(server, FAULT_MODELS[0])
    assert len(workers) == 2

    async def kill_midway():
        load = asyncio.ensure_future(closed_loop(url, _photos(), 3, 8, timeout=60, params=FAULT_QUERY))
        await asyncio.sleep(3)
        os.kill(workers[0]["pid"], signal.SIGKILL)
        return await load

    run = asyncio.run(kill_midway())
    assert len(run.errors()) <= 1 and len(run.ok()) >= 3, [o.status for o in run.outcomes]
    _wait(lambda: [w["status"] for w in _describe(server, FAULT_MODELS[0])] == ["READY", "READY"], 60)
    assert {w["pid"] for w in _describe(server, FAULT_MODELS[0])} != {w["pid"] for w in workers}


def test_a_killed_frontend_is_restarted_and_the_gateway_recovers_by_itself(supervised):
    server, supervisor, url = supervised
    assert _ocr(url) == 200
    old_key = server.management_headers()
    java = [p for p in psutil.Process(server.process.pid).children() if p.name() == "java"]
    assert len(java) == 1
    java[0].kill()  # the frontend itself; its launcher exits with it
    _wait(lambda: _ocr(url) != 200, 10)  # down at once: 503, not a hang
    _wait(lambda: _ocr(url) == 200, 180)  # restarted by the supervisor; the gateway read the new keys
    _wait(lambda: supervisor.restarts >= 1, 60)  # counted once every model is READY again
    assert server.management_headers() != old_key
    no_key = httpx.get(f"{server.config.management_url}/models", timeout=10)
    assert no_key.status_code != 200  # the management API never answers without its key
