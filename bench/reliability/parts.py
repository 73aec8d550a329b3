"""The suite's parts; each returns table rows (part, figure, value, target, passed)."""
from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
import signal
import socket
import statistics
import time
from dataclasses import dataclass

import httpx
import psutil

from bench.reliability import corpus
from bench.reliability.checks import read_texts, run_cases, send
from bench.reliability.fuzz import fuzz
from bench.reliability.load import closed_loop, latency, open_loop, percentile
from bench.reliability.target import ADMIN_KEY, Target


@dataclass
class Row:
    part: str
    figure: str
    value: object
    target: str
    passed: bool | None  # None: a figure without a target


def _worker_ids(target: Target, models: list[str]) -> set[tuple[str, int]]:
    return {(f"{m}/{w['id']}", w.get("pid", 0)) for m in models for w in target.workers(m)}


def malformed(target: Target, cases: list[corpus.Case], good: bytes, models: list[str]) -> list[Row]:
    """Part 1: the corpus, with worker ids, temp files and the good image checked around it."""
    with httpx.Client(base_url=target.url, timeout=120) as client:
        expected = read_texts(client, good)
        workers, temps = _worker_ids(target, models), target.temp_files()
        start = time.perf_counter()
        verdict = run_cases(client, cases, ADMIN_KEY, good, expected)
        seconds = time.perf_counter() - start
    died = len(workers - _worker_ids(target, models))
    left = target.temp_files() - temps
    rows = [Row("corpus", "requests sent", verdict.sent, ">= 1000", verdict.sent >= 1000),
            Row("corpus", "5xx / no answer", len(verdict.server_errors), "0", not verdict.server_errors),
            Row("corpus", "4xx not in the error schema", len(verdict.bad_schema), "0", not verdict.bad_schema),
            Row("corpus", "answers leaking paths or traces", len(verdict.leaks), "0", not verdict.leaks),
            Row("corpus", "good image misread after bad ones", f"{len(verdict.good_failures)} of {verdict.good_checks}",
                "0", not verdict.good_failures),
            Row("corpus", "worker deaths", died, "0", died == 0),
            Row("corpus", "temporary files left", left, "0", left <= 0),
            Row("corpus", "slowest case (s)", f"{verdict.slowest[0]} ({verdict.slowest[1][:40]})", "", None),
            Row("corpus", "wall time (s)", round(seconds, 1), "", None)]
    for problem in verdict.problems()[:10]:
        print("  corpus problem:", problem)
    return rows


def schema_fuzz(target: Target, max_examples: int) -> list[Row]:
    """Part 2: schemathesis over every operation of the live OpenAPI, admin key included."""
    start = time.perf_counter()
    report = fuzz(target.url, max_examples, headers={"authorization": f"Bearer {ADMIN_KEY}"})
    seconds = time.perf_counter() - start
    for failure in report.failures[:10]:
        print("  fuzz problem:", failure)
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(report.statuses.items()))
    return [Row("fuzz", f"operations / requests ({max_examples} examples each, {seconds:.0f} s)",
                f"{report.operations} / {report.calls} ({statuses})", "every operation", report.operations >= 15),
            Row("fuzz", "server errors", report.server_errors, "0", report.server_errors == 0),
            Row("fuzz", "answers the published schema does not declare", len(report.failures), "0",
                not report.failures)]


def cost(target: Target, cases: list[corpus.Case]) -> list[Row]:
    """Small files that decode to much work: seconds and the peak RSS of the gateway and workers."""
    rows = []
    with httpx.Client(base_url=target.url, timeout=300) as client:
        for case in cases:
            before = target.usage()
            start = time.perf_counter()
            response = send(client, case, ADMIN_KEY)
            seconds = time.perf_counter() - start
            after = target.usage()
            rows.append(Row("cost", case.name, f"{response.status_code} in {seconds:.1f} s; gateway "
                            f"{before['gateway']['rss_mb']:.0f}->{after['gateway']['rss_mb']:.0f} MB, workers "
                            f"{before['workers']['rss_mb']:.0f}->{after['workers']['rss_mb']:.0f} MB",
                            "< 500, < 5 s", response.status_code < 500 and seconds < 5))
    return rows


def soak(target: Target, images: list[bytes], seconds: float, clients: int = 4,
         windows: int = 4) -> tuple[list[Row], float]:
    """Part 3: saturation for `seconds`; latency per window, resource growth start -> end.
    Also returns the throughput (requests/s), the capacity the overload part starts from."""
    asyncio.run(closed_loop(target.url, images, clients, min(20.0, seconds / 5)))  # warm-up
    start_usage = target.usage()
    run = asyncio.run(closed_loop(target.url, images, clients, seconds))
    end_usage = target.usage()
    rows = [Row("soak", "requests served / errors", f"{len(run.ok())} / {len(run.errors())}", "errors 0",
                not run.errors())]
    span = seconds / windows
    p95s = []
    for w in range(windows):
        stats = latency(run.window(w * span, (w + 1) * span).ok())
        p95s.append(stats["p95"])
        rows.append(Row("soak", f"window {w + 1}: n, p50/p95/p99 (s)",
                        f"{stats['n']}, {stats['p50']:.2f}/{stats['p95']:.2f}/{stats['p99']:.2f}", "", None))
    drift = p95s[-1] / p95s[0] if p95s[0] else float("nan")
    rows.append(Row("soak", "p95 last / first window", round(drift, 2), "< 1.5 (noise)", drift < 1.5))
    for role in ("gateway", "frontend", "workers"):
        a, b = start_usage[role], end_usage[role]
        growth = (b["rss_mb"] - a["rss_mb"]) / a["rss_mb"] if a["rss_mb"] else 0
        # The JVM's heap grows towards -Xmx1g at its own pace: its RSS is shown, not judged.
        rss_ok = role == "frontend" or growth < 0.10
        rows.append(Row("soak", f"{role} RSS MB / fds / threads",
                        f"{a['rss_mb']:.0f}->{b['rss_mb']:.0f} / {a['fds']}->{b['fds']} / {a['threads']}->{b['threads']}",
                        "RSS +<10% (not Java), fds and threads no growth",
                        rss_ok and b["fds"] <= a["fds"] + 2 and b["threads"] <= a["threads"] + 2))
    return rows, len(run.ok()) / seconds


def _until(predicate, timeout: float, step: float = 0.2) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(step)
    return None


def _all_ready(target: Target, model: str, count: int, old_pids: set[int] = frozenset()) -> bool:
    """`count` workers READY, and the killed one replaced (its pid gone from the list)."""
    try:
        workers = target.workers(model)
    except (httpx.HTTPError, OSError, ValueError, KeyError):
        return False
    return (len(workers) == count and all(w["status"] == "READY" for w in workers)
            and (not old_pids or {w["pid"] for w in workers} != old_pids))


def faults(target: Target, images: list[bytes], detector: str = "dbnet", stall_s: float = 10.0) -> list[Row]:
    """Part 4: kill -9 a worker mid-run, kill -9 the frontend, SIGSTOP it, drop an upload midway."""
    rows = []
    workers = target.workers(detector)
    victim = workers[0]["pid"]

    async def kill_during_load():
        load = asyncio.ensure_future(closed_loop(target.url, images, 4, 12))
        await asyncio.sleep(4)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        before = {w["pid"] for w in workers}
        await asyncio.to_thread(_until, lambda: _all_ready(target, detector, len(workers), before), 60)
        back = time.monotonic() - killed_at
        return await load, back

    run, back = asyncio.run(kill_during_load())
    rows.append(Row("faults", f"kill -9 {detector} worker: failed / served", f"{len(run.errors())} / {len(run.ok())}",
                    "failed <= in flight on it (1)", len(run.errors()) <= 1))
    rows.append(Row("faults", "worker replaced, READY after (s)", round(back, 1), "< 30", back < 30))

    front = target.frontend()
    front.kill()
    went_down = _until(lambda: not target.ready(), 10, 0.05)
    recovered = _until(target.ready, 180, 0.25)
    rows.append(Row("faults", "kill -9 frontend: /readyz 503 then 200 after (s)",
                    f"{went_down is not None}, {recovered if recovered is None else round(recovered, 1)}",
                    "recovers by itself", recovered is not None))
    with httpx.Client(base_url=target.url, timeout=120) as client:
        after = client.post("/ocr", files={"file": ("a", images[0])}).status_code
    rows.append(Row("faults", "/ocr after the restart", after, "200", after == 200))

    rows += _stall(target, images[0], stall_s)
    rows.append(_disconnect_mid_upload(target))
    return rows


def _stall(target: Target, image: bytes, stall_s: float) -> list[Row]:
    front = target.frontend()
    front.suspend()
    try:
        start = time.perf_counter()
        with httpx.Client(base_url=target.url, timeout=stall_s + 60) as client:
            status = client.post("/ocr", files={"file": ("a", image)}).status_code
        waited = time.perf_counter() - start
    finally:
        front.resume()
    with httpx.Client(base_url=target.url, timeout=120) as client:
        recovered = _until(lambda: client.post("/ocr", files={"file": ("a", image)}).status_code == 200, 60, 0.5)
    return [Row("faults", "SIGSTOP frontend: status, seconds", f"{status}, {waited:.1f}",
                f"504 within the upstream timeout ({stall_s:g} s) + 2", status == 504 and waited < stall_s + 2),
            Row("faults", "after SIGCONT: served again within (s)", recovered and round(recovered, 1), "< 30",
                recovered is not None)]


def _disconnect_mid_upload(target: Target) -> Row:
    port = int(target.url.rsplit(":", 1)[1])
    before_fds, before_tmp = target.usage()["gateway"]["fds"], target.temp_files()
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            boundary = "b0undary"
            sock.sendall((f"POST /ocr HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={boundary}"
                          f"\r\nContent-Length: 8000000\r\n\r\n--{boundary}\r\nContent-Disposition: form-data; "
                          f'name="file"; filename="x"\r\n\r\n').encode() + b"\x00" * 2_000_000)
    time.sleep(2)
    fds, tmp = target.usage()["gateway"]["fds"] - before_fds, target.temp_files() - before_tmp
    return Row("faults", "20 uploads dropped midway: gateway fds / temp files left", f"{fds} / {tmp}", "0 / 0",
               fds <= 0 and tmp <= 0)


def backpressure(target: Target, images: list[bytes], capacity: float, seconds: float, factor: float = 4) -> list[Row]:
    """Part 5: unloaded p95, then `factor` x the measured capacity as an open loop, then the unloaded
    p95 again (the machine may be shared: the two show how much its load moved meanwhile)."""
    unloaded = asyncio.run(closed_loop(target.url, images, 1, 15))
    base_p95 = latency(unloaded.ok())["p95"]
    peak = {"gateway": 0.0}

    def sample():
        peak["gateway"] = max(peak["gateway"], target.usage()["gateway"]["rss_mb"])

    run = asyncio.run(open_loop(target.url, images, factor * capacity, seconds, sample=sample))
    after_p95 = latency(asyncio.run(closed_loop(target.url, images, 1, 15)).ok())["p95"]
    ok, shed = run.ok(), [o for o in run.outcomes if o.status == 503]
    other = [o for o in run.outcomes if o.status not in (200, 503)]
    p95 = latency(ok)["p95"]
    with_retry = sum(1 for o in shed if o.retry_after)
    return [Row("overload", f"offered {factor:g}x capacity ({factor * capacity:.1f}/s) for {seconds:.0f} s",
                f"{len(ok)} served, {len(shed)} shed, {len(other)} other", "other 0", not other),
            Row("overload", "shed answers with Retry-After", f"{with_retry} of {len(shed)}", "all",
                with_retry == len(shed)),
            Row("overload", "p95 accepted / unloaded p95 before (s)", f"{p95:.2f} / {base_p95:.2f} = {p95 / base_p95:.2f}x",
                "< 2x", p95 < 2 * base_p95),
            Row("overload", "unloaded p95 after (s), ratio to it", f"{after_p95:.2f}, {p95 / after_p95:.2f}x", "", None),
            Row("overload", "median time to shed (s)",
                round(percentile([o.seconds for o in shed], 50), 3) if shed else "-", "", None),
            Row("overload", "gateway peak RSS (MB)", round(peak["gateway"]), "", None)]


def slow_clients(target: Target, image: bytes, idle: int = 200, slow: int = 50, seconds: float = 30) -> list[Row]:
    """Part 6: idle connections and slowloris headers while a normal client keeps reading."""
    port = int(target.url.rsplit(":", 1)[1])
    idle_socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(idle)]
    slow_socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(slow)]
    for sock in slow_socks:
        sock.sendall(b"POST /ocr HTTP/1.1\r\nHost: x\r\n")
    served, began = [], time.monotonic()
    with httpx.Client(base_url=target.url, timeout=60) as client:
        while time.monotonic() - began < seconds:
            for sock in slow_socks:
                try:
                    sock.sendall(b"X")
                except OSError:
                    pass
            t = time.perf_counter()
            served.append((client.post("/ocr", files={"file": ("a", image)}).status_code, time.perf_counter() - t))
    closed = [_is_closed(s) for s in idle_socks + slow_socks]
    for sock in idle_socks + slow_socks:
        sock.close()
    good = [s for s, _ in served if s == 200]
    return [Row("slow clients", f"{idle} idle + {slow} slowloris connections closed by the server",
                f"{sum(closed[:idle])} + {sum(closed[idle:])}", "all", all(closed)),
            Row("slow clients", "other client meanwhile: served / p95 (s)",
                f"{len(good)} of {len(served)} / {percentile([t for _, t in served], 95):.2f}", "all served",
                len(good) == len(served))]


def _is_closed(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _loopback(address: str) -> bool:
    """127.0.0.0/8, ::1, or the IPv4-mapped form Java reports (::ffff:127.0.0.1)."""
    ip = ipaddress.ip_address(address)
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback


def access(target: Target) -> list[Row]:
    """Part 7: admin keys, timing of wrong keys, TorchServe's ports and key, security headers."""
    rows = []
    with httpx.Client(base_url=target.url, timeout=30) as client:
        wrong = {"missing": None, "empty": "", "wrong": "x" * len(ADMIN_KEY), "prefix": ADMIN_KEY[:-1],
                 "longer": ADMIN_KEY + "x", "case": ADMIN_KEY.upper(), "basic": None}
        refused = 0
        for kind, key in wrong.items():
            headers = {} if key is None else {"authorization": f"Bearer {key}".strip()}
            if kind == "basic":
                headers = {"authorization": f"Basic {ADMIN_KEY}"}
            refused += client.get("/models", headers=headers).status_code == 401
        rows.append(Row("access", "admin: missing / wrong / almost-right keys refused", f"{refused} of {len(wrong)}",
                        "all (401)", refused == len(wrong)))
        first = "y" + ADMIN_KEY[1:]
        last = ADMIN_KEY[:-1] + "y"
        timings = {first: [], last: []}
        for _ in range(300):
            for key in (first, last):
                t = time.perf_counter()
                client.get("/models", headers={"authorization": f"Bearer {key}"})
                timings[key].append(time.perf_counter() - t)
        diff = statistics.median(timings[first]) - statistics.median(timings[last])
        spread = statistics.pstdev(timings[first]) / len(timings[first]) ** 0.5
        rows.append(Row("access", "median time, wrong first - wrong last char (us)",
                        f"{diff * 1e6:+.1f} (std err {spread * 1e6:.1f})", "below noise", abs(diff) < 3 * spread + 50e-6))
        headers = client.get("/healthz").headers
        wanted = ("x-content-type-options", "x-frame-options", "referrer-policy", "cache-control")
        rows.append(Row("access", "security headers", ", ".join(h for h in wanted if h in headers) or "none",
                        "all four", all(h in headers for h in wanted)))
    no_key = httpx.get(f"{target.management_url}/models", timeout=10).status_code
    with_key = httpx.get(f"{target.management_url}/models", timeout=10,
                         headers={"authorization": f"Bearer {target.management_key()}"}).status_code
    rows.append(Row("access", "TorchServe management: no key / right key", f"{no_key} / {with_key}", "refused / 200",
                    no_key != 200 and with_key == 200))
    front = target.frontend()
    addresses = sorted({c.laddr.ip for c in front.net_connections("inet") if c.status == psutil.CONN_LISTEN})
    rows.append(Row("access", "TorchServe listening addresses", ", ".join(addresses), "loopback only",
                    bool(addresses) and all(_loopback(a) for a in addresses)))
    url_load = httpx.post(f"{target.url}/models/{secrets.token_hex(4)}", params={"url": "http://127.0.0.1:1/x.mar"},
                          headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=30).status_code
    rows.append(Row("access", "load by URL through the gateway", url_load, "404 (zoo names only)", url_load == 404))
    return rows
