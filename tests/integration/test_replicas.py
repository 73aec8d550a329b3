"""Two TorchServe replicas behind one gateway: spread, fan-out, and one replica dying mid-run.

Both run with token auth on, so each has keys of its own: the gateway holds one key file per replica."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import pytest

from service.gateway.settings import Settings
from tests.conftest import data_path
from service.gateway.torchserve_client import read_keys
from tests.integration.servers import running_gateway, running_torchserves, torchserve_config

MODELS = ["ppocrv6-tiny-det", "ppocrv6-tiny-rec"]
QUERY = {"det": "ppocrv6-tiny-det", "rec": "ppocrv6-tiny-rec"}
ADMIN = "replica-test-admin-key-0123"


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, archives_ready):
    with ExitStack() as stack:
        servers = stack.enter_context(running_torchserves(
            *(torchserve_config(tmp_path_factory.mktemp(f"r{i}"), MODELS, token_auth=True) for i in range(2))))
        settings = Settings(inference_url=",".join(s.config.inference_url for s in servers),
                            management_url=",".join(s.config.management_url for s in servers),
                            torchserve_key_file=",".join(str(s.config.key_file) for s in servers),
                            admin_key=ADMIN, replica_cooldown_s=30)
        url = stack.enter_context(running_gateway(settings))
        yield servers, url


def _workers(server, model: str) -> int:
    """Workers of a model on one replica, asked of that replica directly with its own key."""
    key = read_keys(server.config.key_file).management
    response = httpx.get(f"{server.config.management_url}/models/{model}", timeout=10,
                         headers={"Authorization": f"Bearer {key}"})
    return len(response.json()[0]["workers"])


def test_each_replica_has_its_own_keys(replicas):
    servers, url = replicas
    first, second = (read_keys(s.config.key_file) for s in servers)
    assert first.inference != second.inference
    crossed = httpx.get(f"{servers[1].config.management_url}/models", timeout=10,
                        headers={"Authorization": f"Bearer {first.management}"})
    assert crossed.status_code == 400  # one replica's key is refused by the other
    image = data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()
    before = [_predictions_logged(s) for s in servers]
    codes = [httpx.post(f"{url}/ocr", params=QUERY, files={"file": ("a", image)}, timeout=120).status_code
             for _ in range(4)]
    assert codes == [200] * 4
    served = [_predictions_logged(s) - n for s, n in zip(servers, before)]
    assert all(n > 0 for n in served), served  # both replicas answered, each with its own key


def _predictions_logged(server) -> int:
    """Prediction calls a replica answered with 200, from its access log."""
    log = server.config.run_dir / "logs" / "access_log.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return sum(1 for line in lines if "/predictions/" in line and '" 200 ' in line)


def test_management_changes_fan_out_to_every_replica(replicas):
    servers, url = replicas
    auth = {"Authorization": f"Bearer {ADMIN}"}
    scaled = httpx.put(f"{url}/models/{MODELS[1]}?workers=2", headers=auth, timeout=120)
    assert scaled.status_code == 200, scaled.text
    assert [_workers(s, MODELS[1]) for s in servers] == [2, 2]
    back = httpx.put(f"{url}/models/{MODELS[1]}?workers=1", headers=auth, timeout=120)
    assert back.status_code == 200 and [_workers(s, MODELS[1]) for s in servers] == [1, 1]


def test_a_replica_dies_mid_run_and_only_its_in_flight_requests_fail(replicas):
    servers, url = replicas
    image = data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()
    statuses: list[int] = []
    lock = threading.Lock()
    concurrency, total = 4, 24

    def one(_):
        try:
            code = httpx.post(f"{url}/ocr", params=QUERY, files={"file": ("a", image)}, timeout=120).status_code
        except httpx.HTTPError:
            code = -1
        with lock:
            statuses.append(code)

    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(one, i) for i in range(total)]
        while len(statuses) < total // 4:
            time.sleep(0.05)
        servers[1].stop()  # killed with requests in flight
        for future in futures:
            future.result()
    failed = [s for s in statuses if s != 200]
    assert len(statuses) == total
    assert len(failed) <= concurrency, statuses  # at most the requests that were inside the dead replica
    after = [httpx.post(f"{url}/ocr", params=QUERY, files={"file": ("a", image)}, timeout=120).status_code
             for _ in range(4)]
    assert after == [200] * 4
