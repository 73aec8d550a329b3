"""Typed clients of the gateway: `OcrClient` (sync) and `AsyncOcrClient`, one method per route.

Both share the request building and response parsing below; only the transport (httpx.Client or
httpx.AsyncClient) and the sleep between retries differ. Results are the gateway's own response
models (service.gateway.schemas), so a client and the server cannot disagree on a field.

A new route is one `*_call` function returning a `Call` (method, path,
params, files or json, the response model) plus a one-line method on each client class.
"""
from __future__ import annotations

import asyncio
import base64
import os
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import httpx
from pydantic import BaseModel

from ocrserve.errors import ConnectionFailed, error_for
from ocrserve.inputs import ImageLike, to_upload
from service.gateway.schemas import JobStatus, KieResponse, ModelList, OcrResponse

DEFAULT_URL = "http://127.0.0.1:8000"


def default_url() -> str:
    """The gateway a client talks to when not told: $OCRSERVE_URL, else DEFAULT_URL (as `ocrserve ocr` does)."""
    return os.environ.get("OCRSERVE_URL") or DEFAULT_URL
RETRY_STATUSES = frozenset({503})


@dataclass(frozen=True)
class Retry:
    """503 (model loading, TorchServe restarting) is retried with exponential backoff."""

    attempts: int = 4          # tries in all, the first included
    backoff_s: float = 0.5     # first wait; doubles each time
    max_wait_s: float = 8.0

    def wait(self, attempt: int, response: httpx.Response) -> float | None:
        """Seconds to wait before the next try, or None to give up."""
        if response.status_code not in RETRY_STATUSES or attempt + 1 >= self.attempts:
            return None
        after = response.headers.get("retry-after", "")
        if after.replace(".", "", 1).isdigit():
            return min(float(after), self.max_wait_s)
        return min(self.backoff_s * 2 ** attempt, self.max_wait_s)


@dataclass
class Call:
    """One HTTP request and the model its JSON answer parses into (None: raw bytes)."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] | None = None
    json: Any = None
    model: type[BaseModel] | None = None

    def send_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"params": self.params}
        if self.files is not None:
            kwargs["files"] = {k: (name, data, "application/octet-stream") for k, (name, data) in self.files.items()}
        if self.json is not None:
            kwargs["json"] = self.json
        return kwargs


def _options(**options: Any) -> dict[str, Any]:
    """Query parameters: None is left to the server's default; booleans as 'true'/'false'."""
    out = {}
    for key, value in options.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def ocr_call(image: ImageLike, det: str | None = None, rec: str | None = None, cls: bool | None = None,
             kie: str | None = None, channel_order: str = "RGB", **options: Any) -> Call:
    """POST /ocr. `det`/`rec` None: the service's default; 'none': skip that stage."""
    name, data = to_upload(image, channel_order)
    params = _options(det=det, rec=rec, cls=cls, kie=kie, **options)
    return Call("POST", "/ocr", params=params, files={"file": (name, data)}, model=OcrResponse)


def visualize_call(image: ImageLike, channel_order: str = "RGB", **options: Any) -> Call:
    """POST /visualize: OCR as /ocr does, answered as a PNG with the result drawn over the image
    (extra options: text='side'|'over'|'none', words, pairs)."""
    call = ocr_call(image, channel_order=channel_order, **options)
    return Call("POST", "/visualize", params=call.params, files=call.files, model=None)


def kie_call(instances: Iterable[dict[str, Any]], image: ImageLike | None = None, model: str | None = None,
             width: int | None = None, height: int | None = None) -> Call:
    """POST /kie with a JSON body: the caller's boxes and texts (and optionally the image)."""
    body: dict[str, Any] = {"instances": [dict(item) for item in instances]}
    if image is not None:
        body["image"] = base64.b64encode(to_upload(image)[1]).decode("ascii")
    body.update({k: v for k, v in (("model", model), ("width", width), ("height", height)) if v is not None})
    return Call("POST", "/kie", json=body, model=KieResponse)


def job_submit_call(image: ImageLike, channel_order: str = "RGB", **options: Any) -> Call:
    """POST /jobs: the same upload and options as /ocr, answered at once with the job's status."""
    call = ocr_call(image, channel_order=channel_order, **options)
    return Call("POST", "/jobs", params=call.params, files=call.files, model=JobStatus)


def job_status_call(job_id: str) -> Call:
    return Call("GET", f"/jobs/{job_id}", model=JobStatus)


def job_result_call(job_id: str, format: str = "json") -> Call:
    """GET /jobs/{id}/result: the /ocr response (json), or the bytes of another format."""
    return Call("GET", f"/jobs/{job_id}/result", params=_options(format=None if format == "json" else format),
                model=OcrResponse if format == "json" else None)


def job_delete_call(job_id: str) -> Call:
    return Call("DELETE", f"/jobs/{job_id}", model=None)


def parse(call: Call, response: httpx.Response) -> Any:
    """The typed result of a successful answer, or the error of its status family."""
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = None
        raise error_for(response.status_code, body, response.text[:500] or response.reason_phrase)
    if call.model is None:
        return response.content
    return call.model.model_validate(response.json())


class _Common:
    def __init__(self, url: str | None, timeout: float, retry: Retry | None, admin_key: str | None):
        self.url = (url or default_url()).rstrip("/")
        self.retry = retry or Retry()
        self._headers = {"authorization": f"Bearer {admin_key}"} if admin_key else {}
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))

    def _models_call(self) -> Call:
        return Call("GET", "/models", model=ModelList)


class OcrClient(_Common):
    """Synchronous client: `OcrClient("http://127.0.0.1:8000").ocr("photo.jpg").pages[0].result`."""

    def __init__(self, url: str | None = None, timeout: float = 120.0, retry: Retry | None = None,
                 admin_key: str | None = None):
        super().__init__(url, timeout, retry, admin_key)
        self._http = httpx.Client(base_url=self.url, timeout=self._timeout, headers=self._headers)

    def send(self, call: Call) -> Any:
        """Send one call, retrying 503 with backoff; returns the parsed result."""
        for attempt in range(self.retry.attempts):
            try:
                response = self._http.request(call.method, call.path, **call.send_kwargs())
            except httpx.TransportError as exc:
                raise ConnectionFailed(f"{call.method} {self.url}{call.path}: {exc}") from exc
            wait = self.retry.wait(attempt, response)
            if wait is None:
                return parse(call, response)
            time.sleep(wait)
        raise AssertionError("unreachable: the last attempt always parses")

    def ocr(self, image: ImageLike, **options: Any) -> OcrResponse:
        """Detect and read `image`; options as /ocr's (det, rec, cls, kie, mask_thr, ...)."""
        return self.send(ocr_call(image, **options))

    def visualize(self, image: ImageLike, **options: Any) -> bytes:
        """PNG of the image with lines, words, KIE labels and text drawn (POST /visualize)."""
        return self.send(visualize_call(image, **options))

    def kie(self, instances: Iterable[dict[str, Any]], image: ImageLike | None = None, **options: Any) -> KieResponse:
        """Label the caller's boxes and texts (`[{"box": [...], "text": "..."}]`)."""
        return self.send(kie_call(instances, image, **options))

    def models(self) -> ModelList:
        """Every zoo model and its live status (needs the admin key)."""
        return self.send(self._models_call())

    def submit_job(self, document: ImageLike, **options: Any) -> JobStatus:
        """Queue the OCR of a (long) document; poll with `job` or wait with `wait_job`."""
        return self.send(job_submit_call(document, **options))

    def job(self, job_id: str) -> JobStatus:
        return self.send(job_status_call(job_id))

    def job_result(self, job_id: str, format: str = "json") -> OcrResponse | bytes:
        return self.send(job_result_call(job_id, format))

    def delete_job(self, job_id: str) -> None:
        self.send(job_delete_call(job_id))

    def wait_job(self, job_id: str, timeout: float = 600.0, poll_s: float = 1.0) -> OcrResponse:
        """Poll until the job is done and return its result; a failed job raises its own error."""
        deadline = time.monotonic() + timeout
        while self.job(job_id).state not in ("done", "failed"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} not finished after {timeout} s")
            time.sleep(poll_s)
        return self.job_result(job_id)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "OcrClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncOcrClient(_Common):
    """Asynchronous client with the same methods, awaited: `await client.ocr(image)`."""

    def __init__(self, url: str | None = None, timeout: float = 120.0, retry: Retry | None = None,
                 admin_key: str | None = None):
        super().__init__(url, timeout, retry, admin_key)
        self._http = httpx.AsyncClient(base_url=self.url, timeout=self._timeout, headers=self._headers)

    async def send(self, call: Call) -> Any:
        """Send one call, retrying 503 with backoff; returns the parsed result."""
        for attempt in range(self.retry.attempts):
            try:
                response = await self._http.request(call.method, call.path, **call.send_kwargs())
            except httpx.TransportError as exc:
                raise ConnectionFailed(f"{call.method} {self.url}{call.path}: {exc}") from exc
            wait = self.retry.wait(attempt, response)
            if wait is None:
                return parse(call, response)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable: the last attempt always parses")

    async def ocr(self, image: ImageLike, **options: Any) -> OcrResponse:
        return await self.send(ocr_call(image, **options))

    async def visualize(self, image: ImageLike, **options: Any) -> bytes:
        return await self.send(visualize_call(image, **options))

    async def kie(self, instances: Iterable[dict[str, Any]], image: ImageLike | None = None,
                  **options: Any) -> KieResponse:
        return await self.send(kie_call(instances, image, **options))

    async def models(self) -> ModelList:
        return await self.send(self._models_call())

    async def submit_job(self, document: ImageLike, **options: Any) -> JobStatus:
        return await self.send(job_submit_call(document, **options))

    async def job(self, job_id: str) -> JobStatus:
        return await self.send(job_status_call(job_id))

    async def job_result(self, job_id: str, format: str = "json") -> OcrResponse | bytes:
        return await self.send(job_result_call(job_id, format))

    async def delete_job(self, job_id: str) -> None:
        await self.send(job_delete_call(job_id))

    async def wait_job(self, job_id: str, timeout: float = 600.0, poll_s: float = 1.0) -> OcrResponse:
        deadline = time.monotonic() + timeout
        while (await self.job(job_id)).state not in ("done", "failed"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} not finished after {timeout} s")
            await asyncio.sleep(poll_s)
        return await self.job_result(job_id)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncOcrClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
