"""Load generators: a closed loop (N clients back to back) and an open loop (a fixed arrival rate)."""
from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class Outcome:
    start: float  # seconds since the run began
    seconds: float
    status: int  # -1: no HTTP answer (connection failed)
    retry_after: str | None = None


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)

    def ok(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == 200]

    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != 200]

    def window(self, start: float, end: float) -> "Run":
        return Run([o for o in self.outcomes if start <= o.start < end])


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def latency(outcomes: list[Outcome]) -> dict[str, float]:
    seconds = [o.seconds for o in outcomes]
    return {"n": len(seconds), "p50": percentile(seconds, 50), "p95": percentile(seconds, 95),
            "p99": percentile(seconds, 99), "mean": statistics.fmean(seconds) if seconds else float("nan")}


async def _post(client: httpx.AsyncClient, image: bytes, began: float, params: dict | None = None) -> Outcome:
    start = time.perf_counter()
    try:
        response = await client.post("/ocr", params=params, files={"file": ("page", image)})
        status, retry = response.status_code, response.headers.get("retry-after")
    except httpx.HTTPError:
        status, retry = -1, None
    return Outcome(start - began, time.perf_counter() - start, status, retry)


async def closed_loop(url: str, images: list[bytes], clients: int, seconds: float, timeout: float = 120,
                      params: dict | None = None) -> Run:
    """`clients` concurrent clients posting images back to back for `seconds`."""
    run, cycle = Run(), itertools.cycle(images)
    began = time.perf_counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        async def one_client() -> None:
            while time.perf_counter() - began < seconds:
                run.outcomes.append(await _post(client, next(cycle), began, params))

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return run


async def open_loop(url: str, images: list[bytes], rate: float, seconds: float, timeout: float = 120,
                    sample=None) -> Run:
    """Requests arriving at `rate` per second for `seconds`, whatever the service does;
    `sample()` is called every second (memory probes)."""
    run, cycle, tasks = Run(), itertools.cycle(images), []
    began = time.perf_counter()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        async def keep(task_image: bytes) -> None:
            run.outcomes.append(await _post(client, task_image, began))

        for n in itertools.count():
            due = began + n / rate
            if due - began >= seconds:
                break
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.ensure_future(keep(next(cycle))))
            if sample and n % max(1, round(rate)) == 0:
                sample()
        await asyncio.gather(*tasks)
    return run
