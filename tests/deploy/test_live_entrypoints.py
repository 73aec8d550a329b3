"""Opt-in (OCRSERVE_DEPLOY_E2E=1, about 15 s): both entrypoints for real, outside Docker, with the
prod profile (token auth on), deploy/log4j2.xml and the repository's model store; the probes and
the gateway's /readyz and /ocr against them; SIGTERM stops everything. Skipped by default to keep
tests/deploy fast; tests/integration covers TorchServe itself."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from service.gateway.zoo import load_zoo
from tests.deploy.conftest import DEPLOY, REPO, clean_env
from service.tooling.launch.ports import free_ports

pytestmark = pytest.mark.skipif(os.environ.get("OCRSERVE_DEPLOY_E2E") != "1",
                                reason="opt-in: OCRSERVE_DEPLOY_E2E=1 (starts TorchServe and the gateway, about 15 s)")


def start(script: str, log, **env: str) -> subprocess.Popen:
    return subprocess.Popen(["bash", script], cwd=REPO, env=clean_env(**env), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> bool:
    """SIGTERM to the entrypoint's process alone, as `docker stop` sends it to PID 1 (not to its
    process group); True when it exited within 40 s, else everything is killed."""
    try:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(40)
        return True
    except ProcessLookupError:
        return True
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return False


def test_prod_torchserve_and_gateway_outside_docker(tmp_path):
    store = REPO / "model_store"
    if not all((store / f"{m}.mar").is_file() for m in load_zoo(store / "zoo.yaml").default_names()):
        pytest.skip("archives not built (make setup)")
    inf, man, met, g1, g2, gw = free_ports(6)
    run_dir = tmp_path / "run"
    ts_log = open(tmp_path / "torchserve.log", "wb")
    ts = start("docker/entrypoint-torchserve.sh", ts_log, OCRSERVE_RUN_DIR=str(run_dir),
               OCRSERVE_MODEL_STORE=str(store), OCRSERVE_TS_LOG_CONFIG=str(DEPLOY / "log4j2.xml"),
               OCRSERVE_TS_INFERENCE_PORT=str(inf), OCRSERVE_TS_MANAGEMENT_PORT=str(man),
               OCRSERVE_TS_METRICS_PORT=str(met), OCRSERVE_TS_GRPC_INFERENCE_PORT=str(g1),
               OCRSERVE_TS_GRPC_MANAGEMENT_PORT=str(g2))
    gateway = None
    try:
        probe = [sys.executable, "docker/ts_probe.py", "ready", "--config", str(run_dir / "config.properties")]
        deadline = time.monotonic() + 180
        while subprocess.run(probe, cwd=REPO, capture_output=True).returncode != 0:
            assert ts.poll() is None, (tmp_path / "torchserve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "TorchServe not ready"
            time.sleep(1)
        live = subprocess.run([*probe[:2], "live", *probe[3:]], cwd=REPO, capture_output=True, text=True)
        assert live.returncode == 0, live.stdout
        assert httpx.get(f"http://127.0.0.1:{inf}/ping").status_code == 400  # token auth is on

        gateway = start("docker/entrypoint-gateway.sh", open(tmp_path / "gateway.log", "wb"),
                        OCRSERVE_INFERENCE_URL=f"http://127.0.0.1:{inf}",
                        OCRSERVE_MANAGEMENT_URL=f"http://127.0.0.1:{man}",
                        OCRSERVE_TORCHSERVE_KEY_FILE=str(run_dir / "key_file.json"), OCRSERVE_GATEWAY_PORT=str(gw))
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{gw}/readyz", timeout=10)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert gateway.poll() is None and time.monotonic() < deadline, (tmp_path / "gateway.log").read_text()
            time.sleep(0.5)
        import cv2
        import numpy as np

        page = np.full((120, 480, 3), 255, np.uint8)
        cv2.putText(page, "HELLO 42", (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 2, (0, 0, 0), 4)
        png = cv2.imencode(".png", page)[1].tobytes()
        result = httpx.post(f"http://127.0.0.1:{gw}/ocr", files={"file": ("p.png", png, "image/png")}, timeout=60)
        assert result.status_code == 200, result.text
        assert "HELLO" in " ".join(r["text"] for r in result.json()["pages"][0]["result"]).upper()
    finally:
        if gateway is not None:
            stop(gateway)
        stopped = stop(ts)
        ts_log.close()
    assert stopped, "the TorchServe entrypoint ignored SIGTERM for 40 s"
    log = (tmp_path / "torchserve.log").read_text()
    lines = [line for line in log.splitlines() if line.strip() and line.strip() != "######"]
    assert " [DEBUG] " not in log
    assert len(lines) == len(set(lines)), "a log line was written twice"
    assert not any((run_dir / "logs").iterdir())  # everything went to stdout
    deadline = time.monotonic() + 20  # frontend and workers are gone (workers may take a moment)
    while time.monotonic() < deadline:
        try:
            os.killpg(ts.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.killpg(ts.pid, signal.SIGKILL)  # leave nothing running behind a failure
        pytest.fail("TorchServe processes left after SIGTERM")
