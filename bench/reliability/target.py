"""The service under test: `ocrserve run` in a subprocess on free loopback ports, and its processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from service.tooling.launch.ports import free_ports

ADMIN_KEY = "reliability-admin-key-0123456789"
PORT_NAMES = ("INFERENCE", "MANAGEMENT", "METRICS", "GRPC_INFERENCE", "GRPC_MANAGEMENT")


@dataclass
class Target:
    """A running `ocrserve run`: URLs, run directory, and probes of its processes."""

    url: str
    management_url: str
    run_dir: Path
    process: subprocess.Popen
    gateway_tmp: Path

    @property
    def key_file(self) -> Path:
        return self.run_dir / "torchserve" / "key_file.json"

    def management_key(self) -> str:
        return json.loads(self.key_file.read_text())["management"]["key"]

    def launcher(self) -> psutil.Process | None:
        """The `torchserve --foreground` process: it waits on the Java frontend and exits with it."""
        try:
            return psutil.Process(int((self.run_dir / "torchserve" / "torchserve.pgid").read_text()))
        except (OSError, ValueError, psutil.Error):
            return None

    def frontend(self) -> psutil.Process | None:
        """TorchServe's Java frontend (the process that listens and runs the workers)."""
        launcher = self.launcher()
        java = [p for p in launcher.children() if p.name() == "java"] if launcher else []
        return java[0] if java else None

    def workers(self, model: str) -> list[dict]:
        """TorchServe's view of a model's workers (id, pid, status)."""
        response = httpx.get(f"{self.management_url}/models/{model}", timeout=10,
                             headers={"Authorization": f"Bearer {self.management_key()}"})
        response.raise_for_status()
        return response.json()[0]["workers"]

    def processes(self) -> dict[str, list[psutil.Process]]:
        launcher, front = self.launcher(), self.frontend()
        workers = front.children(recursive=True) if front else []
        return {"gateway": [psutil.Process(self.process.pid)],
                "frontend": [p for p in (launcher, front) if p is not None], "workers": workers}

    def usage(self) -> dict[str, dict[str, float]]:
        """RSS (MB), open file descriptors and threads, summed per role."""
        out = {}
        for role, procs in self.processes().items():
            rss = fds = threads = 0
            for proc in procs:
                try:
                    rss += proc.memory_info().rss / 2**20
                    fds += proc.num_fds()
                    threads += proc.num_threads()
                except psutil.Error:
                    continue
            out[role] = {"rss_mb": round(rss, 1), "fds": fds, "threads": threads}
        return out

    def temp_files(self) -> int:
        """Files left in the gateway's and TorchServe's temporary folders (sockets excluded)."""
        roots = [self.gateway_tmp, self.run_dir / "torchserve" / "tmp"]
        return sum(1 for root in roots if root.exists() for p in root.rglob("*") if p.is_file()
                   and not p.name.startswith(".ts.sock"))

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float) -> float:
        start = time.monotonic()
        while not self.ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"ocrserve run exited with {self.process.returncode}")
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"not ready after {timeout:.0f} s")
            time.sleep(0.25)
        return time.monotonic() - start

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(90)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start(run_dir: Path, models: list[str] | None = None, **settings: str) -> Target:
    """`ocrserve run` with its own run dir, ports, TMPDIR and admin key; waits until ready."""
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / "gateway-tmp"
    tmp.mkdir(exist_ok=True)
    port, *rest = free_ports(1 + len(PORT_NAMES))
    ports = dict(zip(PORT_NAMES, rest))
    env = {**os.environ, "OCRSERVE_GATEWAY_PORT": str(port), "OCRSERVE_RUN_DIR": str(run_dir), "TMPDIR": str(tmp),
           "OCRSERVE_ADMIN_KEY": ADMIN_KEY, **{f"OCRSERVE_TS_{k}_PORT": str(v) for k, v in ports.items()},
           **{f"OCRSERVE_{k.upper()}": str(v) for k, v in settings.items()}}
    cmd = [sys.executable, "-m", "service.tooling.cli", "run"] + (["--models", *models] if models else [])
    log = open(run_dir / "ocrserve-run.log", "ab")
    process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    target = Target(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ports['MANAGEMENT']}", run_dir, process, tmp)
    try:
        target.wait_ready(300)
    except Exception:
        target.stop()
        raise
    return target
