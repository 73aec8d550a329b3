"""ASGI guards of the gateway: admission control (load shedding) and a last-resort error net.

Both are plain ASGI middlewares, so they run before a request body is read (a shed request
costs nothing) and below Starlette's ServerErrorMiddleware (an unexpected exception becomes a
JSON 500 and uvicorn keeps the keep-alive connection, instead of a plain-text 500 and a close).
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers.api.errors import InternalError, Overloaded

log = logging.getLogger("ocrserve.guards")
Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_READ_ONLY = ("GET", "HEAD", "OPTIONS")
_UNLIMITED_PREFIXES = ("/models",)  # admin calls are few, authenticated and must get through


async def send_json(send: Send, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
    """One complete JSON response."""
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


def is_work(scope: Scope) -> bool:
    """Requests that run the pipeline (every write route but the admin ones) are admitted."""
    return (scope["type"] == "http" and scope["method"] not in _READ_ONLY
            and not scope["path"].startswith(_UNLIMITED_PREFIXES))


def cpu_capacity() -> int:
    """CPU cores this process may run on (its affinity, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class Admission:
    """At most `max_in_flight` requests run; up to `max_queued` more wait, each at most
    `queue_timeout_s`; the rest get 503 with Retry-After at once.

    Why the limits follow the capacity: the latency of an admitted request is its queue wait plus
    its service time with `max_in_flight` others sharing the cores. With 4 running and 4 waiting on
    2 cores (the old fixed defaults), an admitted request at overload took about 4x an unloaded one
    (bench/reliability: 3.8x); with one running and one waiting per core it is about 2x."""

    max_in_flight: int
    max_queued: int
    queue_timeout_s: float
    # Optional: a queued request also gives up after this many times the fastest of the last 32
    # service times (about an unloaded request's), so an admitted request's latency stays near a
    # multiple of the unloaded one however loaded the machine is. It sheds closed loops of more
    # clients than the machine serves at once, hence off by default.
    queue_wait_ratio: float | None = None

    @classmethod
    def for_capacity(cls, max_in_flight: int | None, max_queued: int | None, queue_timeout_s: float,
                     queue_wait_ratio: float | None = None, cores: int | None = None) -> "Admission":
        """Limits given, or derived from the cores: one running and one waiting per core."""
        cores = cores or cpu_capacity()
        running = max_in_flight or cores
        return cls(running, running if max_queued is None else max_queued, queue_timeout_s, queue_wait_ratio)

    def wait_limit_s(self) -> float:
        """How long a request may wait in the queue now."""
        if self.queue_wait_ratio and self._recent:
            return min(self.queue_timeout_s, self.queue_wait_ratio * min(self._recent))
        return self.queue_timeout_s

    def __post_init__(self) -> None:
        self.running = 0
        self.waiting = 0
        self.shed = 0
        self.service_s = 0.0  # moving average of the time an admitted request held its slot
        self._recent: deque[float] = deque(maxlen=32)
        self._slots = asyncio.Semaphore(self.max_in_flight)

    async def acquire(self) -> bool:
        """Take a slot, waiting in the bounded queue if needed; False when the request is shed."""
        if self.running >= self.max_in_flight and self.waiting >= self.max_queued:
            return False
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait_limit_s())
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
        self.running += 1
        return True

    def release(self, held_s: float | None = None) -> None:
        self.running -= 1
        self._slots.release()
        if held_s is not None:
            self._recent.append(held_s)
            self.service_s = held_s if not self.service_s else 0.8 * self.service_s + 0.2 * held_s

    def retry_after_s(self) -> int:
        """Seconds until the work now admitted has drained: the queue and the running requests at the
        measured service time (the queue timeout before any request has been served)."""
        if not self.service_s:
            return max(1, math.ceil(self.queue_timeout_s))
        return max(1, math.ceil(round(self.service_s * (self.waiting + self.running) / self.max_in_flight, 3)))


def admission_middleware(app: ASGIApp, admission: Admission) -> ASGIApp:
    """Shed work past the bounds with 503 + Retry-After before reading the body."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if not is_work(scope):
            await app(scope, receive, send)
            return
        if not await admission.acquire():
            admission.shed += 1
            shed = Overloaded("the service is at capacity; retry later")
            await send_json(send, shed.status, shed.to_json(), {"Retry-After": str(admission.retry_after_s())})
            return
        start = time.perf_counter()
        try:
            await app(scope, receive, send)
        finally:
            admission.release(time.perf_counter() - start)

    return guarded


def error_net(app: ASGIApp) -> ASGIApp:
    """Turn an exception nobody mapped into a JSON 500 without a stack trace or a closed connection."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            await app(scope, receive, tracking_send)
        except Exception:  # noqa: BLE001 - the last net: logged in full, answered in brief
            log.exception("unhandled error after %.0f ms", (time.perf_counter() - start) * 1000)
            if started:
                raise
            error = InternalError("internal error; the request id in X-Request-Id finds it in the logs")
            await send_json(send, error.status, error.to_json())

    return guarded


_SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                     (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store")]


def security_headers(app: ASGIApp) -> ASGIApp:
    """Headers every API answer should carry: no sniffing, no framing, no referrer, no caching."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in _SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await app(scope, receive, with_headers if scope["type"] == "http" else send)

    return guarded
