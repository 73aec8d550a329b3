"""Start and stop a TorchServe instance of our own: config file, TMPDIR, logs, readiness, clean exit."""
from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from handlers.api.settings import WorkerSettings

_MB = 1024 * 1024
# The process group of the TorchServe this run directory belongs to, while it runs.
PGID_FILE = "torchserve.pgid"
# A unix socket path holds at most 107 bytes; TorchServe names them <TEMP>/.ts.sock.<port>.
_MAX_SOCKET_DIR = 90


def max_request_mb(max_upload_bytes: int) -> int:
    """TorchServe's max_request_size / max_response_size in whole MiB for the gateway's upload
    limit: twice the limit, since recognition requests carry the crops base64-encoded (4/3)
    inside JSON bodies and a PDF page goes to the detector re-encoded as PNG."""
    return max(1, math.ceil(2 * max_upload_bytes / _MB))


@dataclass
class TorchServeConfig:
    """Everything that differs between two TorchServe instances on one machine."""

    model_store: Path
    run_dir: Path
    models: list[str]
    host: str = "127.0.0.1"
    inference_port: int = 8080
    management_port: int = 8081
    metrics_port: int = 8082
    grpc_inference_port: int = 7070  # TorchServe always starts gRPC; give each instance its own
    grpc_management_port: int = 7071
    token_auth: bool = False
    token_expiration_min: float = 60
    max_request_mb: int = 64
    number_of_gpu: int = 0  # always written: TorchServe's own default is every GPU it finds
    # The workers' settings (handlers/api/settings.py) as environment variables; unset ones get
    # WorkerSettings' defaults, never whatever this process's environment holds.
    workers_env: dict[str, str] = field(default_factory=dict)

    @property
    def inference_url(self) -> str:
        return f"http://{self.host}:{self.inference_port}"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    @property
    def key_file(self) -> Path:
        return self.run_dir / "key_file.json"

    def properties(self) -> str:
        """config.properties text. Management and metrics stay on loopback whatever `host` is."""
        store = self.model_store.resolve()
        lines = {
            "inference_address": self.inference_url,
            "management_address": self.management_url,
            "metrics_address": f"http://127.0.0.1:{self.metrics_port}",
            "grpc_inference_address": "127.0.0.1",
            "grpc_management_address": "127.0.0.1",
            "grpc_inference_port": str(self.grpc_inference_port),
            "grpc_management_port": str(self.grpc_management_port),
            "model_store": str(store),
            "load_models": ",".join(f"{m}={m}.mar" for m in self.models) or "",
            "enable_model_api": "true",
            "allowed_urls": f"file://{store}/.*\\.mar",
            "disable_token_authorization": "false" if self.token_auth else "true",
            "token_expiration_min": f"{self.token_expiration_min:g}",
            "max_request_size": str(self.max_request_mb * _MB),
            "max_response_size": str(self.max_request_mb * _MB),
            "default_workers_per_model": "1",
            "number_of_gpu": str(self.number_of_gpu),
            "install_py_dep_per_model": "false",
            "job_queue_size": "256",
            "default_response_timeout": "120",
            "disable_system_metrics": "true",
            # Prometheus text on the metrics port (ts_inference_requests_total, latencies); in the
            # default "log" mode TorchServe writes metrics to log files and the port answers empty.
            "metrics_mode": "prometheus",
            "vmargs": "-Xmx1g -XX:+UseSerialGC -XX:-UsePerfData",
        }
        return "".join(f"{key}={value}\n" for key, value in lines.items() if value != "")


class TorchServe:
    """One running TorchServe, in its own process group so that stopping it leaves nothing behind."""

    def __init__(self, config: TorchServeConfig):
        self.config = config
        self.process: subprocess.Popen | None = None

    def _tmp_dir(self) -> Path:
        """The instance's own temp folder, in its run dir."""
        return self.config.run_dir / "tmp"

    def _socket_dir(self) -> Path:
        """Where the worker sockets go: the run dir's temp folder, unless its path is too long for a socket."""
        short = self._short_socket_dir()
        if short is None:
            return self._tmp_dir()
        short.mkdir(parents=True, exist_ok=True)
        return short

    def _short_socket_dir(self) -> Path | None:
        """The socket folder outside the run dir (one per management port) when the run dir's path is
        too long for a socket, else None."""
        if len(str(self._tmp_dir())) <= _MAX_SOCKET_DIR:
            return None
        return Path(tempfile.gettempdir()) / f"ocrserve-{self.config.management_port}"

    def remove_socket_dir(self) -> None:
        """Delete the socket folder made outside the run dir (nothing else would), once TorchServe is gone."""
        if (short := self._short_socket_dir()) is not None:
            shutil.rmtree(short, ignore_errors=True)

    def _env(self) -> dict[str, str]:
        tmp = self._tmp_dir()
        tmp.mkdir(parents=True, exist_ok=True)
        bin_dir = str(Path(sys.executable).parent)
        # TMPDIR holds the Python side's files; TEMP is what TorchServe hands Java as its temp
        # folder, where the worker sockets live: shared, two instances would delete each other's.
        logs = str(self.config.run_dir / "logs")
        env = {**os.environ, "TMPDIR": str(tmp), "TEMP": str(self._socket_dir()), "LOG_LOCATION": logs,
               "METRICS_LOCATION": logs, "OMP_NUM_THREADS": "1",
               **WorkerSettings().to_env(), "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
        env.pop("TS_CONFIG_FILE", None)
        return {**env, **self.config.workers_env}

    def start(self) -> None:
        """Write the config and launch TorchServe in the foreground of a new session."""
        run_dir = self.config.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        stop_stale_group(run_dir / PGID_FILE)
        (run_dir / "config.properties").write_text(self.config.properties())
        cmd = [str(Path(sys.executable).with_name("torchserve")), "--start", "--foreground", "--ncs",
               "--ts-config", str(run_dir / "config.properties"),
               "--model-store", str(self.config.model_store.resolve())]
        log = open(run_dir / "torchserve.out", "ab")
        self.process = subprocess.Popen(cmd, cwd=run_dir, env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        (run_dir / PGID_FILE).write_text(str(self.process.pid))

    def management_headers(self) -> dict[str, str]:
        """Authorization header for the management API when token auth is on."""
        if not self.config.token_auth:
            return {}
        from service.gateway.torchserve_client import read_keys

        return {"Authorization": f"Bearer {read_keys(self.config.key_file).management}"}

    def _renew_management_key(self) -> None:
        """Keys expire (token_expiration_min); the API key regenerates them into key_file.json."""
        from service.gateway.torchserve_client import read_keys

        api = read_keys(self.config.key_file).api
        httpx.get(f"{self.config.management_url}/token", params={"type": "management"},
                  headers={"Authorization": f"Bearer {api}"}, timeout=5)

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Block until every configured model has all its workers READY."""
        deadline = time.monotonic() + timeout
        pending = list(self.config.models)
        while pending:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"TorchServe exited with {self.process.returncode}; see {self.config.run_dir}/logs")
            if time.monotonic() > deadline:
                raise TimeoutError(f"models not ready after {timeout:.0f}s: {pending}")
            pending = [m for m in pending if not self._model_ready(m)]
            if pending:
                time.sleep(0.5)

    def _model_ready(self, name: str) -> bool:
        try:
            url = f"{self.config.management_url}/models/{name}"
            response = httpx.get(url, headers=self.management_headers(), timeout=5)
            if response.status_code == 400 and self.config.token_auth:
                self._renew_management_key()
                response = httpx.get(url, headers=self.management_headers(), timeout=5)
        except (httpx.HTTPError, OSError, ValueError, KeyError):
            return False
        if response.status_code != 200:
            return False
        workers = response.json()[0].get("workers", [])
        return bool(workers) and all(w.get("status") == "READY" for w in workers)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the whole process group, then SIGKILL whatever is left; then its socket folder."""
        if self.process is None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(wait)
                _wait_group_gone(self.process.pid, wait)
                break
            except subprocess.TimeoutExpired:
                continue
        (self.config.run_dir / PGID_FILE).unlink(missing_ok=True)
        self.remove_socket_dir()
        self.process = None


def stop_stale_group(pgid_file: Path, timeout: float = 20.0) -> bool:
    """Stop a TorchServe left running by a launcher that was killed (SIGKILL gives it no chance to
    stop its TorchServe, which runs in a session of its own). The group is only signalled if its
    leader is still a TorchServe process; returns whether one was stopped."""
    try:
        pgid = int(pgid_file.read_text().strip())
        cmdline = Path(f"/proc/{pgid}/cmdline").read_bytes()
    except (OSError, ValueError):
        pgid_file.unlink(missing_ok=True)
        return False
    if b"torchserve" not in cmdline or os.getpgid(pgid) != pgid:
        pgid_file.unlink(missing_ok=True)
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
            _wait_group_gone(pgid, wait)
            break
        except ProcessLookupError:
            break
        except subprocess.TimeoutExpired:
            continue
    pgid_file.unlink(missing_ok=True)
    return True


def _wait_group_gone(pgid: int, timeout: float) -> None:
    """Workers may outlive the frontend by a moment; wait until the group is empty."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise subprocess.TimeoutExpired(f"process group {pgid}", timeout)
