"""The container entrypoints and helper scripts, run here outside Docker: dry runs, failures,
the health probe against a fake TorchServe, the key publisher in dry-run mode."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from service.gateway.zoo import load_zoo
from service.tooling.launch.ports import free_port
from tests.deploy.conftest import DOCKER, REPO, clean_env, run
from tests.integration.servers import wait_healthy

# the models a container loads when OCRSERVE_TS_MODELS is unset: the zoo's defaults
DEFAULTS = load_zoo(REPO / "model_store" / "zoo.yaml").default_names()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A model store holding (empty) archives of the default models."""
    store = tmp_path / "store"
    store.mkdir()
    for name in DEFAULTS:
        (store / f"{name}.mar").write_bytes(b"")
    return store


def test_torchserve_entrypoint_dry_run(tmp_path, store):
    result = run(["bash", "docker/entrypoint-torchserve.sh", "--dry-run"], OCRSERVE_RUN_DIR=str(tmp_path / "run"),
                 OCRSERVE_MODEL_STORE=str(store), OCRSERVE_TS_MANAGEMENT_HOST="pod-ip", POD_IP="10.0.0.7",
                 OCRSERVE_KEYS_SECRET="ocrserve-torchserve-keys", OCRSERVE_KEYS_ITEM="ocrserve-torchserve-1.json")
    assert result.returncode == 0, result.stderr
    config = (tmp_path / "run" / "config.properties").read_text()
    assert config in result.stdout
    assert "disable_token_authorization=false" in config
    assert "management_address=http://10.0.0.7:8081" in config
    assert "metrics_address=http://127.0.0.1:8082" in config
    assert f"would run in {tmp_path / 'run'}: torchserve --start --foreground --ncs --ts-config" in result.stdout
    assert "would publish" in result.stdout and "warning" not in result.stderr
    assert "item ocrserve-torchserve-1.json" in result.stdout
    assert (tmp_path / "run" / "logs").is_dir()


def run_all(*calls: tuple[list[str], dict[str, str]]) -> list[subprocess.CompletedProcess]:
    """`run(cmd, **env)` for each call, all at once (each entrypoint run is mostly Python start-up)."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: run(call[0], **call[1]), calls))


def test_torchserve_entrypoint_refuses_missing_archives_and_bad_settings(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    missing, dry, wildcard, no_auth = run_all(
        (["bash", "docker/entrypoint-torchserve.sh"], {"OCRSERVE_RUN_DIR": str(tmp_path / "a"),
                                                       "OCRSERVE_MODEL_STORE": str(empty)}),
        (["bash", "docker/entrypoint-torchserve.sh"], {"OCRSERVE_DRY_RUN": "1", "OCRSERVE_RUN_DIR": str(tmp_path / "b"),
                                                       "OCRSERVE_MODEL_STORE": str(empty)}),
        (["bash", "docker/entrypoint-torchserve.sh", "--dry-run"], {"OCRSERVE_RUN_DIR": str(tmp_path / "c"),
                                                                    "OCRSERVE_TS_METRICS_HOST": "0.0.0.0"}),
        (["bash", "docker/entrypoint-torchserve.sh", "--dry-run"], {"OCRSERVE_RUN_DIR": str(tmp_path / "d"),
                                                                    "OCRSERVE_TS_TOKEN_AUTH": "false"}))
    assert missing.returncode == 3 and "dbnet.mar" in missing.stderr
    assert dry.returncode == 0 and "warning: archives missing" in dry.stderr
    assert wildcard.returncode == 2 and "0.0.0.0" in wildcard.stderr
    assert no_auth.returncode == 2 and "token auth" in no_auth.stderr


def test_gateway_entrypoint_dry_run():
    result = run(["bash", "docker/entrypoint-gateway.sh", "--dry-run"],
                 OCRSERVE_INFERENCE_URL="http://torchserve:8080", OCRSERVE_MANAGEMENT_URL="http://torchserve:8081",
                 OCRSERVE_ADMIN_KEY="0123456789abcdef0123", OCRSERVE_GATEWAY_PORT="8001")
    assert result.returncode == 0, result.stderr
    assert "http://torchserve:8081" in result.stdout and "admin routes on" in result.stdout
    assert "would run: " in result.stdout and "-m service.gateway.server" in result.stdout
    # the settings `ocrserve run` gives its gateway (service/gateway/server.py), on the container's port
    assert ("uvicorn on 0.0.0.0:8001: header timeout 10 s, keep-alive timeout 5 s, graceful shutdown 10 s, "
            "server header off") in result.stdout


def test_gateway_entrypoint_refuses_several_workers():
    result = run(["bash", "docker/entrypoint-gateway.sh", "--dry-run"], OCRSERVE_GATEWAY_WORKERS="4")
    assert result.returncode == 2 and "one gateway process per container" in result.stderr


def test_gateway_entrypoint_serves_with_the_header_and_idle_timeouts(tmp_path):
    """The entrypoint for real: a client that never finishes its request headers (slowloris) and
    an idle keep-alive connection are both closed after the configured timeouts, while a
    complete request is answered; SIGTERM stops it cleanly."""
    port = free_port()
    log = open(tmp_path / "gateway.log", "w+")
    gateway = subprocess.Popen(
        ["bash", "docker/entrypoint-gateway.sh"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
        env=clean_env(OCRSERVE_GATEWAY_HOST="127.0.0.1", OCRSERVE_GATEWAY_PORT=str(port),
                      OCRSERVE_INFERENCE_URL=f"http://127.0.0.1:{free_port()}",  # nothing there: /healthz only
                      OCRSERVE_MANAGEMENT_URL=f"http://127.0.0.1:{free_port()}",
                      OCRSERVE_HEADER_TIMEOUT_S="1.5", OCRSERVE_KEEP_ALIVE_TIMEOUT_S="1",
                      OCRSERVE_RUN_DIR=str(tmp_path / "run"), OCRSERVE_JOBS_DIR=str(tmp_path / "jobs")))

    def alive():
        if gateway.poll() is not None:
            log.seek(0)
            raise AssertionError(f"gateway exited {gateway.returncode}: {log.read()[-3000:]}")

    try:
        wait_healthy(f"http://127.0.0.1:{port}", 120, alive)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as ok:
            ok.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = ok.recv(4096).decode()
            assert head.startswith("HTTP/1.1 200") and "\r\nserver:" not in head.lower()
            assert _closed_within(ok, 4) < 4  # idle keep-alive: closed after about 1 s
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            waited = _closed_within(slow, 8)
            assert 1.0 < waited < 6, waited  # the header timeout (1.5 s), not uvicorn's default (never)
        alive()
    finally:
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(30) == 0
    log.seek(0)
    lines = [line for line in log.read().splitlines() if line.startswith("{")]
    assert any(json.loads(line)["logger"].startswith("uvicorn") for line in lines)  # JSON logs, as `ocrserve run`
    assert any("Finished server process" in json.loads(line)["msg"] for line in lines)  # a graceful stop


def _closed_within(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closes `sock` (reads to EOF); `limit` when it has not by then."""
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return limit
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def test_gateway_entrypoint_refuses_the_placeholder_admin_key():
    result = run(["bash", "docker/entrypoint-gateway.sh", "--dry-run"], OCRSERVE_ADMIN_KEY="CHANGE_ME")
    assert result.returncode == 2 and "at least 16 characters" in result.stderr


class FakeTorchServe(BaseHTTPRequestHandler):
    key_inference, key_management = "inf-key", "mgmt-key"
    workers = {name: ["READY"] for name in DEFAULTS} | {"dbnet": ["READY", "READY"]}

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's name
        auth = self.headers.get("Authorization", "")
        if self.path == "/ping":
            if auth != f"Bearer {self.key_inference}":
                return self._reply(400, {"code": 400, "type": "InvalidKeyException"})
            return self._reply(200, {"status": "Healthy"})
        name = self.path.removeprefix("/models/")
        if auth != f"Bearer {self.key_management}":
            return self._reply(400, {"code": 400, "type": "InvalidKeyException"})
        if name not in self.workers:
            return self._reply(404, {"code": 404})
        return self._reply(200, [{"modelName": name, "workers": [{"status": s} for s in self.workers[name]]}])

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_torchserve(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTorchServe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    config = tmp_path / "config.properties"
    config.write_text(f"inference_address=http://0.0.0.0:{port}\nmanagement_address=http://127.0.0.1:{port}\n"
                      f"load_models={','.join(f'{n}={n}.mar' for n in DEFAULTS)}\n"
                      "disable_token_authorization=false\n")
    keys = {"inference": {"key": "inf-key"}, "management": {"key": "mgmt-key"}, "API": {"key": "api-key"}}
    (tmp_path / "key_file.json").write_text(json.dumps(keys))
    yield config
    server.shutdown()
    FakeTorchServe.workers["dbnet"] = ["READY", "READY"]


def probe(config: Path, *args: str):
    return run([sys.executable, str(DOCKER / "ts_probe.py"), *args, "--config", str(config)], timeout=30)


def test_probe_live_and_ready_with_the_keys(fake_torchserve):
    live = probe(fake_torchserve, "live")
    assert live.returncode == 0, live.stdout
    ready = probe(fake_torchserve, "ready")
    assert ready.returncode == 0 and ", ".join(DEFAULTS) in ready.stdout


def test_probe_not_ready_when_a_worker_is_not_ready_or_a_model_is_missing(fake_torchserve):
    FakeTorchServe.workers["dbnet"] = ["READY", "UNLOADING"]
    ready = probe(fake_torchserve, "ready")
    assert ready.returncode == 1 and "dbnet: workers ['READY', 'UNLOADING']" in ready.stdout
    unknown = probe(fake_torchserve, "ready", "--models", "ppocrv4-rec")
    assert unknown.returncode == 1 and "HTTP 404" in unknown.stdout


def test_probe_fails_without_keys_or_server(fake_torchserve, tmp_path):
    (fake_torchserve.parent / "key_file.json").write_text(json.dumps({"inference": {"key": "wrong"}}))
    assert probe(fake_torchserve, "live").returncode == 1
    assert probe(fake_torchserve, "ready").returncode == 1  # no management key in the file
    nothing = tmp_path / "down" / "config.properties"
    nothing.parent.mkdir()
    nothing.write_text("inference_address=http://127.0.0.1:9\nmanagement_address=http://127.0.0.1:9\n"
                       "load_models=dbnet=dbnet.mar\ndisable_token_authorization=true\n")
    assert probe(nothing, "live", "--timeout", "2").returncode == 1
    assert probe(nothing, "ready", "--timeout", "2").returncode == 1


def test_publish_keys_dry_run(tmp_path):
    key_file = tmp_path / "key_file.json"
    key_file.write_text(json.dumps({"management": {"key": "m"}, "inference": {"key": "i"}, "API": {"key": "a"}}))
    result = run([sys.executable, "docker/publish_keys.py", "--key-file", str(key_file), "--secret",
                  "ocrserve-torchserve-keys", "--item", "ocrserve-torchserve-0.json", "--namespace", "ocrserve",
                  "--once", "--dry-run"], timeout=30)
    assert result.returncode == 0, result.stderr
    assert ("would PATCH https://kubernetes.default.svc:443/api/v1/namespaces/ocrserve/secrets/"
            "ocrserve-torchserve-keys item ocrserve-torchserve-0.json with keys ['API', 'inference', 'management']"
            ) in result.stdout
    missing = run([sys.executable, "docker/publish_keys.py", "--key-file", str(tmp_path / "none.json"),
                   "--secret", "s", "--once", "--dry-run", "--wait-s", "0.3"], timeout=30)
    assert missing.returncode == 1 and "did not appear" in missing.stderr


def test_publish_keys_patch_body(tmp_path):
    sys.path.insert(0, str(DOCKER))
    try:
        import publish_keys
    finally:
        sys.path.remove(str(DOCKER))
    key_file = tmp_path / "key_file.json"
    key_file.write_text('{"API": {"key": "a"}}')
    import base64

    body = publish_keys.patch_body(key_file)
    assert base64.b64decode(body["data"]["key_file.json"]) == key_file.read_bytes()
    per_replica = publish_keys.patch_body(key_file, "ocrserve-torchserve-1.json")
    assert list(per_replica["data"]) == ["ocrserve-torchserve-1.json"]  # a merge patch: other replicas' items stay
    key_file.write_text('{"API": ')  # half-written: refused, not published
    with pytest.raises(ValueError):
        publish_keys.patch_body(key_file)


def test_torchserve_entrypoint_hands_the_settings_to_the_workers(tmp_path, store):
    """OCRSERVE_MAX_PIXELS set only in the env file reaches the environment TorchServe (and so its
    workers) starts with; `torchserve` here is a script recording that environment."""
    env_file = tmp_path / "ocrserve.env"
    env_file.write_text("OCRSERVE_MAX_PIXELS=2000000\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorder = bin_dir / "torchserve"
    recorder.write_text(f"#!/bin/sh\nenv > {tmp_path / 'seen.env'}\n")
    recorder.chmod(0o755)
    common = {"OCRSERVE_MODEL_STORE": str(store), "OCRSERVE_ENV_FILE": str(env_file)}
    dry, real = run_all(  # each in its own run dir, both at once
        (["bash", "docker/entrypoint-torchserve.sh", "--dry-run"], {"OCRSERVE_RUN_DIR": str(tmp_path / "dry"), **common}),
        (["bash", "docker/entrypoint-torchserve.sh"],
         {"OCRSERVE_RUN_DIR": str(tmp_path / "run"), **common,
          "PATH": f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}"}))
    assert dry.returncode == 0 and "OCRSERVE_MAX_PIXELS=2000000" in dry.stdout, dry.stderr
    assert real.returncode == 0, real.stderr
    seen = dict(line.split("=", 1) for line in (tmp_path / "seen.env").read_text().splitlines() if "=" in line)
    assert seen["OCRSERVE_MAX_PIXELS"] == "2000000" and seen["OCRSERVE_THREADS"] == "1"
