"""Prometheus metrics, request ids and JSON log lines of the gateway."""
from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
log = logging.getLogger("ocrserve.access")

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The gateway's metrics, in a registry of their own (one per app, so tests can build many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("ocrserve_requests_total", "HTTP requests by route and status",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("ocrserve_request_seconds", "HTTP request latency by route", ["route"],
                                 buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.stages = Histogram("ocrserve_stage_seconds", "time per pipeline stage", ["stage"],
                                buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("ocrserve_in_flight_requests", "requests being served", registry=self.registry)
        self.upstream_errors = Counter("ocrserve_upstream_errors_total", "failed calls to TorchServe by kind",
                                       ["kind"], registry=self.registry)

    def observe_stages(self, timings_ms: dict[str, float]) -> None:
        """Record the pipeline's per-stage timings (milliseconds) of one request."""
        for stage, ms in timings_ms.items():
            if stage != "total":
                self.stages.labels(stage).observe(ms / 1000)

    def response(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def _route_of(request: Request) -> str:
    """The matched route template (bounded label values), or 'unmatched'."""
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


def middleware(metrics: Metrics):
    """HTTP middleware: request id in and out, in-flight gauge, counters, one JSON log line."""

    async def observe(request: Request, call_next):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        rid = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        start = time.perf_counter()
        status = 500
        metrics.in_flight.inc()
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers[REQUEST_ID_HEADER] = rid
            return response
        finally:
            elapsed = time.perf_counter() - start
            metrics.in_flight.dec()
            route = _route_of(request)
            metrics.requests.labels(route, str(status)).inc()
            metrics.latency.labels(route).observe(elapsed)
            log.info("request", extra={"fields": {"method": request.method, "path": request.url.path,
                                                  "route": route, "status": status,
                                                  "ms": round(elapsed * 1000, 1)}})
            request_id.reset(token)

    return observe


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the current request id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
                "msg": record.getMessage()}
        if request_id.get():
            line["request_id"] = request_id.get()
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_json_logging(level: int = logging.INFO) -> None:
    """Send every log record (ours and uvicorn's) to stderr as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call is noise
