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
import time
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


@dataclass
class Admission:
    """At most `max_in_flight` requests run; up to `max_queued` more wait, each at most
    `queue_timeout_s`; the rest get 503 with Retry-After at once."""

    max_in_flight: int
    max_queued: int
    queue_timeout_s: float

    def __post_init__(self) -> None:
        self.running = 0
        self.waiting = 0
        self.shed = 0
        self._slots = asyncio.Semaphore(self.max_in_flight)

    async def acquire(self) -> bool:
        """Take a slot, waiting in the bounded queue if needed; False when the request is shed."""
        if self.running >= self.max_in_flight and self.waiting >= self.max_queued:
            return False
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_timeout_s)
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
        self.running += 1
        return True

    def release(self) -> None:
        self.running -= 1
        self._slots.release()

    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.queue_timeout_s))


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
        try:
            await app(scope, receive, send)
        finally:
            admission.release()

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
