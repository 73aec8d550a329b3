"""Throughput and latency: (a) gateway + TorchServe, (b) the in-process pipeline, (c) RapidOCR.

The same images go to every configuration from client threads (one engine per thread), interleaved in
rounds so that a noisy machine hurts all alike.  Each pair gets its own TorchServe and gateway, all
stopped on exit, Ctrl-C or error.  Run it as `ocrserve bench` (options: service/tooling/cli_bench.py).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx
import psutil

from service.tooling.packaging.archive import build_archive
from service.tooling.launch.ports import free_port, free_ports
from service.tooling.launch.torchserve_process import TorchServe, TorchServeConfig
from service.gateway.zoo import REPO_ROOT, Zoo

RAPIDOCR_DIR = REPO_ROOT / ".cache" / "weights" / "rapidocr-onnxruntime-1.4.4"
V4_PAIR = ("ppocrv4-det", "ppocrv4-rec")
TEXT_SCORE = 0.5  # RapidOCR drops lines read below this; (a)/(b) keep them, so both counts are shown


@dataclass
class Outcome:
    """What one OCR call found, plus its per-stage timings (ms) when the engine reports them."""

    lines: int
    confident: int
    timings: dict[str, float]


Call = Callable[[bytes], Outcome]


@dataclass
class Result:
    """All timed requests of one configuration at one concurrency."""

    walls: list[float] = field(default_factory=list)  # one per round
    cpu: float = 0.0  # CPU seconds of the serving processes
    latencies: list[float] = field(default_factory=list)
    timings: list[dict[str, float]] = field(default_factory=list)
    counts: dict[int, set[tuple[int, int]]] = field(default_factory=dict)

    def add(self, wall: float, records: list[tuple[int, float, Outcome]], cpu: float) -> None:
        self.walls.append(wall)
        self.cpu += cpu
        for idx, seconds, out in records:
            self.latencies.append(seconds * 1000)
            self.timings.append(out.timings)
            self.counts.setdefault(idx, set()).add((out.lines, out.confident))

    def throughput(self) -> float:
        return len(self.latencies) / sum(self.walls) if self.walls else 0.0


@dataclass
class Config:
    """One engine kind: one callable per client thread, the processes doing its work, its TorchServe."""

    label: str
    engines: list[Call]
    procs: list[psutil.Process]
    run_dir: Path | None = None  # for TorchServe's worker metrics


def cpu_seconds(procs: list[psutil.Process]) -> float:
    """User + system CPU time used so far by these processes."""
    return sum(sum(p.cpu_times()[:2]) for p in procs)


def start_torchserve(zoo: Zoo, pair: tuple[str, str], root: Path, stack: ExitStack) -> TorchServe:
    """Archive the pair from the current handler code and start a TorchServe serving only it."""
    store = root / "store"
    for name in pair:
        build_archive(zoo.get(name), store=store)
    run_dir = root / "torchserve"
    inference, management, metrics, grpc_inference, grpc_management = free_ports(5)
    config = TorchServeConfig(
        model_store=store, run_dir=run_dir, models=list(pair), inference_port=inference,
        management_port=management, metrics_port=metrics, grpc_inference_port=grpc_inference,
        grpc_management_port=grpc_management)
    torchserve = TorchServe(config)
    stack.callback(torchserve.stop)
    torchserve.start()
    return torchserve


def start_gateway(torchserve: TorchServe, zoo_path: Path, stack: ExitStack) -> tuple[str, int]:
    """The gateway (uvicorn, own process group) in front of `torchserve`; returns its URL and pid."""
    port, cfg = free_port(), torchserve.config
    env = {**os.environ, "OCRSERVE_INFERENCE_URL": cfg.inference_url, "OCRSERVE_ZOO_PATH": str(zoo_path),
           "OCRSERVE_MANAGEMENT_URL": cfg.management_url}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "service.gateway.main:app_from_env",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    with open(cfg.run_dir / "gateway.log", "ab") as log:
        process = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    stack.callback(stop_group, process)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return url, process.pid
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"gateway did not come up; see {cfg.run_dir / 'gateway.log'}")


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM a process group started here, SIGKILL it if it lingers."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
            process.wait(wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def _from_response(body: dict) -> Outcome:
    lines = body["pages"][0]["result"]
    return Outcome(len(lines), sum(r["text_score"] >= TEXT_SCORE for r in lines), body["timings_ms"])


def gateway_engine(url: str, pair: tuple[str, str]) -> Call:
    """POST /ocr (multipart, cls off) over this thread's own keep-alive connection."""
    client = httpx.Client(base_url=url, timeout=300)
    params = {"det": pair[0], "rec": pair[1], "cls": "false"}

    def call(data: bytes) -> Outcome:
        response = client.post("/ocr", params=params, files={"file": ("image.jpg", data, "image/jpeg")})
        response.raise_for_status()
        return _from_response(response.json())

    return call


def local_engine(zoo: Zoo, pair: tuple[str, str]) -> Call:
    """service.tooling.evaluation.clients.local_ocr: its own models and event loop, so threads never share state."""
    from service.tooling.evaluation.clients import local_ocr

    ocr = local_ocr(zoo, threads=1)
    return lambda data: _from_response(ocr(data, det=pair[0], rec=pair[1], cls=None))


def rapid_engine() -> Call:
    """RapidOCR 1.4.4 with its default PP-OCRv4 mobile models, no direction classifier, 1 ORT thread."""
    if str(RAPIDOCR_DIR) not in sys.path:
        sys.path.insert(0, str(RAPIDOCR_DIR))
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR(use_cls=False, intra_op_num_threads=1, inter_op_num_threads=1)

    def call(data: bytes) -> Outcome:
        lines, elapsed = engine(data, use_cls=False)
        timings = {"detect": elapsed[0] * 1000, "recognize": elapsed[2] * 1000} if lines else {}
        return Outcome(len(lines or []), len(lines or []), timings)

    return call


def drive(calls: list[Call], items: list[tuple[int, bytes]]) -> tuple[float, list]:
    """Send `items` from len(calls) threads (thread i uses calls[i]); wall seconds and records."""
    pending = deque(items)  # popleft is atomic: a lock-free shared work queue
    records: list[tuple[int, float, Outcome]] = []
    stop = threading.Event()

    def worker(call: Call) -> None:
        while not stop.is_set():
            try:
                idx, data = pending.popleft()
            except IndexError:
                return
            start = time.perf_counter()
            out = call(data)
            records.append((idx, time.perf_counter() - start, out))

    start = time.perf_counter()
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(worker, call) for call in calls]
        try:
            for future in futures:
                future.result()
        except BaseException:
            stop.set()
            raise
    return time.perf_counter() - start, records


def log_offsets(run_dir: Path) -> dict[Path, int]:
    """Current sizes of TorchServe's metric logs (to read only what a phase adds)."""
    logs = [run_dir / "logs" / name for name in ("model_metrics.log", "ts_metrics.log")]
    return {path: path.stat().st_size if path.exists() else 0 for path in logs}


_METRIC = re.compile(r"(PredictionTime\.ms|ts_queue_latency_microseconds\.Microseconds):([\d.]+)"
                     r"\|#(?:ModelName|model_name):([\w.-]+)")


def worker_metrics(offsets: dict[Path, int]) -> dict[str, dict[str, list[float]]]:
    """Per model: handler time per batch ('predict', ms) and frontend queue wait ('queue', ms)."""
    time.sleep(0.5)  # TorchServe's log appender is asynchronous
    out: dict[str, dict[str, list[float]]] = {}
    for path, offset in offsets.items():
        with open(path, encoding="utf-8", errors="replace") as f:
            f.seek(offset)
            for kind, value, model in _METRIC.findall(f.read()):
                key, ms = ("predict", float(value)) if kind.startswith("Pred") else ("queue", float(value) / 1000)
                out.setdefault(model, {"predict": [], "queue": []})[key].append(ms)
    return out


def measure(configs: list[Config], images: list[bytes], concurrency: int, repeats: int,
            rounds: int, done: Callable[[str], None] = lambda label: None) -> tuple[dict[str, Result], dict[str, dict]]:
    """Warm every configuration, then time `repeats` passes over the images, interleaved in rounds."""
    items = list(enumerate(images))
    for config in configs:
        drive(config.engines[:concurrency], [items[i % len(items)] for i in range(2 * concurrency)])
    offsets = {c.label: log_offsets(c.run_dir) for c in configs if c.run_dir}
    results = {c.label: Result() for c in configs}
    per_round = [repeats // rounds + (r < repeats % rounds) for r in range(rounds)]
    for passes in per_round:
        for config in configs:
            before = cpu_seconds(config.procs)
            wall, records = drive(config.engines[:concurrency], items * passes)
            results[config.label].add(wall, records, cpu_seconds(config.procs) - before)
            done(f"{config.label} c={concurrency}")
    return results, {label: worker_metrics(off) for label, off in offsets.items()}


A_V4, B_V4, C_V4, A_DEFAULT = ("a gateway+TS ppocrv4", "b in-process ppocrv4", "c RapidOCR ppocrv4",
                               "a gateway+TS default")


def served_config(label: str, torchserve: TorchServe, pair: tuple[str, str], zoo_path: Path, stack: ExitStack,
                  threads: int, det_workers: int | None) -> Config:
    """Configuration (a): TorchServe ready (maybe rescaled), a gateway in front; CPU = both, not the clients."""
    torchserve.wait_ready()
    if det_workers:  # the management API's scale call, synchronous
        params = {"min_worker": det_workers, "max_worker": det_workers, "synchronous": "true"}
        url = f"{torchserve.config.management_url}/models/{pair[0]}"
        httpx.put(url, params=params, timeout=120).raise_for_status()
    url, gateway_pid = start_gateway(torchserve, zoo_path, stack)
    root = psutil.Process(torchserve.process.pid)
    procs = [root, *root.children(recursive=True), psutil.Process(gateway_pid)]
    return Config(label, [gateway_engine(url, pair) for _ in range(threads)], procs, torchserve.config.run_dir)


def run_benchmark(zoo: Zoo, zoo_path: Path, images: list[bytes], concurrencies: list[int], repeats: int,
                  rounds: int, det_workers: int | None = None,
                  done: Callable[[str], None] = lambda label: None) -> dict[int, tuple[dict, dict]]:
    """Start both stacks, build every engine, measure each concurrency; stops everything it started."""
    threads, default = max(concurrencies), (zoo.defaults["det"], zoo.defaults["rec"])
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ocrserve-bench-")))
        v4_server = start_torchserve(zoo, V4_PAIR, root / "v4", stack)
        default_server = start_torchserve(zoo, default, root / "default", stack)  # both boot at once
        me = [psutil.Process()]
        configs = [served_config(A_V4, v4_server, V4_PAIR, zoo_path, stack, threads, det_workers),
                   Config(B_V4, [local_engine(zoo, V4_PAIR) for _ in range(threads)], me),
                   Config(C_V4, [rapid_engine() for _ in range(threads)], me),
                   served_config(A_DEFAULT, default_server, default, zoo_path, stack, threads, det_workers)]
        return {c: measure(configs, images, c, repeats, rounds, done) for c in concurrencies}
