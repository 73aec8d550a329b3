"""`ocrserve run` in a subprocess: serves, then SIGTERM / SIGINT stop everything it started."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import data_path
from service.tooling.launch.ports import free_ports
from tests.integration.servers import wait_healthy

MODELS = ["ppocrv6-tiny-det", "ppocrv6-tiny-rec"]


def _descendants(pid: int) -> set[int]:
    """Every process whose ancestry leads to `pid` (read from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_run_serves_then_stops_cleanly_on_sigterm_and_on_sigint(tmp_path, archives_ready):
    """One `ocrserve run` per signal, both at once (each spends most of its time waiting for its
    TorchServe to load): the checks of _serve_then_stop on each; a failure names its signal."""
    signals = (signal.SIGTERM, signal.SIGINT)
    ports = free_ports(6 * len(signals))  # distinct across the two runs
    with ThreadPoolExecutor(len(signals)) as pool:
        runs = {sig: pool.submit(_serve_then_stop, tmp_path / sig.name, sig, ports[6 * i:6 * i + 6])
                for i, sig in enumerate(signals)}
    for sig, run in runs.items():
        error = run.exception()
        if error is not None:
            error.add_note(f"stopped with {sig.name}")
            raise error


def _serve_then_stop(tmp_path: Path, sig: signal.Signals, ports: list[int]) -> None:
    tmp_path.mkdir()
    port, ts_port, *other_ports = ports
    # A setting only in the env file must limit the workers too, not only the gateway: img_10
    # (0.92 MP) passes, a 1.65 MP receipt is refused by the worker itself.
    env_file = tmp_path / "ocrserve.env"
    env_file.write_text("OCRSERVE_MAX_PIXELS=1000000\n")
    env = {**os.environ, "OCRSERVE_GATEWAY_PORT": str(port), "OCRSERVE_RUN_DIR": str(tmp_path),
           "OCRSERVE_ENV_FILE": str(env_file), "OCRSERVE_TS_INFERENCE_PORT": str(ts_port),
           **{f"OCRSERVE_TS_{k}_PORT": str(p)
              for k, p in zip(("MANAGEMENT", "METRICS", "GRPC_INFERENCE", "GRPC_MANAGEMENT"), other_ports)}}
    cmd = [sys.executable, "-m", "service.tooling.cli", "run", "--models", *MODELS]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    def alive() -> None:
        assert proc.poll() is None, proc.stdout.read()

    try:
        wait_healthy(f"http://127.0.0.1:{port}", 240, alive, pause=0.5)
        image = data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()
        response = httpx.post(f"http://127.0.0.1:{port}/ocr", params={"det": MODELS[0], "rec": MODELS[1]},
                              files={"file": ("a", image)}, timeout=60)
        assert response.status_code == 200
        large = data_path("sroie2019_train", "img", "045.jpg").read_bytes()
        key = json.loads((tmp_path / "torchserve" / "key_file.json").read_text())["inference"]["key"]
        refused = httpx.post(f"http://127.0.0.1:{ts_port}/predictions/{MODELS[0]}", content=large,
                             headers={"Authorization": f"Bearer {key}"}, timeout=60)
        assert refused.status_code == 413 and refused.json()["error"] == "PayloadTooLarge", refused.text
        assert "over the limit of 1.0 megapixels" in refused.json()["message"], refused.text  # not the 40 MP default
        # ready once the models it was asked for are: not waiting for the zoo defaults it never loads
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=30)
        assert ready.status_code == 200 and sorted(ready.json()["models"]) == sorted(MODELS), ready.text
        started = _descendants(proc.pid)
        assert len(started) >= 3  # java plus one worker per model
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, output
        assert "ocrserve: stopped" in output
        time.sleep(1)
        alive = [pid for pid in started if Path(f"/proc/{pid}").exists()]
        assert alive == [], f"left behind: {alive}"
    finally:
        if proc.poll() is None:  # a failed assertion above: stop it the clean way, then for sure
            leftovers = _descendants(proc.pid)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
            for pid in leftovers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
