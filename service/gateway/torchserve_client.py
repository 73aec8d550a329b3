"""Async client of TorchServe's inference and management APIs over one or more replicas.

Predictions go to the replicas in turn; a replica that cannot be reached (or has no worker) is
skipped for a cool-down and the call, which is idempotent, is retried on the next one.
Management calls that change state fan out to every replica; reads ask the first healthy one.
Failures are translated into the gateway's errors here, at one place.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from handlers.api.errors import from_json
from service.gateway.errors import (ModelNotFound, ModelUnavailable, OcrServeError, UpstreamError,
                            UpstreamTimeout)
from service.gateway.observability import REQUEST_ID_HEADER, request_id


@dataclass(frozen=True)
class Keys:
    inference: str
    management: str
    api: str


def read_keys(path: Path) -> Keys:
    """TorchServe's key_file.json (written at start and rewritten when keys are regenerated)."""
    raw = json.loads(Path(path).read_text())
    return Keys(raw["inference"]["key"], raw["management"]["key"], raw["API"]["key"])


class Unreachable(ModelUnavailable):
    """No answer at all from a replica (refused, reset): safe to retry elsewhere."""


@dataclass
class Replica:
    """One TorchServe instance: its two URLs, its keys, and until when it is considered down."""

    inference_url: str
    management_url: str
    key_file: Path | None = None
    keys: Keys | None = None
    down_until: float = 0.0


class TorchServeClient:
    """One shared HTTP client per process for every replica."""

    def __init__(self, inference_urls: list[str] | str, management_urls: list[str] | str,
                 key_file: Path | list[Path | None] | None = None, timeout_s: float = 120.0, connect_timeout_s: float = 5.0,
                 cooldown_s: float = 5.0):
        inference_urls = [inference_urls] if isinstance(inference_urls, str) else inference_urls
        management_urls = [management_urls] if isinstance(management_urls, str) else management_urls
        key_files = key_file if isinstance(key_file, list) else [key_file]
        key_files = key_files or [None]  # token auth off
        if len(key_files) == 1:  # one file shared by every replica
            key_files = key_files * len(inference_urls)
        if len(key_files) != len(inference_urls):
            raise ValueError(f"{len(key_files)} key files for {len(inference_urls)} TorchServe replicas")
        self.replicas = [Replica(str(i).rstrip("/"), str(m).rstrip("/"), k)
                         for i, m, k in zip(inference_urls, management_urls, key_files)]
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s), limits=limits)
        self.cooldown_s = cooldown_s
        self._turn = itertools.count()

    async def aclose(self) -> None:
        await self.http.aclose()

    def _order(self) -> list[Replica]:
        """Healthy replicas in round-robin order first, then the ones in cool-down."""
        start = next(self._turn) % len(self.replicas)
        ring = self.replicas[start:] + self.replicas[:start]
        now = time.monotonic()
        return [r for r in ring if r.down_until <= now] + [r for r in ring if r.down_until > now]

    retry_delays_s: tuple[float, ...] = (0.25, 1.0)

    def _mark_down(self, replica: Replica) -> None:
        replica.down_until = time.monotonic() + self.cooldown_s

    async def predict(self, model: str, *, content: bytes | None = None, json_body: Any = None,
                      fields: dict[str, Any] | None = None) -> Any:
        """POST /predictions/<model> on the next healthy replica; returns the decoded JSON body.

        TorchServe hands handlers the body and multipart parts but not query parameters, so
        per-request options travel as extra form `fields` beside the image part.
        """
        kwargs = _predict_body(content, json_body, fields)
        error: OcrServeError | None = None
        # A prediction is idempotent: when no replica could take it (refused connection, a worker
        # or frontend being restarted), wait a little and go round again before giving up.
        for delay in (0.0, *self.retry_delays_s):
            await asyncio.sleep(delay)
            for replica in self._order():
                url = f"{replica.inference_url}/predictions/{model}"
                try:
                    return _json_or_raise(await self._send(replica, "inference", "POST", url, **kwargs), model)
                except ModelUnavailable as exc:  # down, or no worker for it there: try the next one
                    self._mark_down(replica)
                    error = exc
                except ModelNotFound:  # the gateway only asks for zoo models: this one is not loaded
                    raise await self._not_loaded(model) from None
        raise error  # type: ignore[misc]

    async def _not_loaded(self, model: str) -> ModelUnavailable:
        """503 naming what is loaded, for a zoo model that TorchServe does not serve right now."""
        try:
            listed = await self.management("GET", "/models", params={"limit": 1000})
            loaded = ", ".join(sorted(m["modelName"] for m in listed.get("models", []))) or "none"
        except OcrServeError:
            loaded = "unknown: TorchServe's management API did not answer"
        return ModelUnavailable(f"model {model!r} is not loaded (loaded: {loaded}); load it with "
                                f"POST /models/{model} or start with `ocrserve run --models ... {model}`")

    async def management(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """A management call: reads from one healthy replica, changes on every replica."""
        if method == "GET":
            error: OcrServeError | None = None
            for replica in self._order():
                try:
                    return await self._manage(replica, method, path, params)
                except Unreachable as exc:
                    self._mark_down(replica)
                    error = exc
            raise error  # type: ignore[misc]
        outcomes = await asyncio.gather(*(self._manage(r, method, path, params) for r in self.replicas),
                                        return_exceptions=True)
        for replica, outcome in zip(self.replicas, outcomes):
            if isinstance(outcome, Unreachable):
                self._mark_down(replica)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        real = [f for f in failures if not isinstance(f, Unreachable)]
        if real or len(failures) == len(outcomes):
            raise (real or failures)[0]
        return next(o for o in outcomes if not isinstance(o, BaseException))

    async def _manage(self, replica: Replica, method: str, path: str, params: dict[str, Any] | None) -> Any:
        response = await self._send(replica, "management", method, f"{replica.management_url}{path}", params=params)
        return _json_or_raise(response, path.removeprefix("/models/"))  # messages name the model, not the path

    def _auth(self, replica: Replica, kind: str) -> dict[str, str]:
        if replica.key_file is None:
            return {}
        if replica.keys is None:
            replica.keys = _load_keys(replica.key_file)
        return {"Authorization": f"Bearer {getattr(replica.keys, kind)}"}

    async def _renew(self, replica: Replica, kind: str, used: Keys) -> None:
        """After an auth failure: take new keys from the file (TorchServe restarted), else regenerate
        the expired key with the API key (TorchServe then rewrites key_file.json)."""
        replica.keys = _load_keys(replica.key_file)
        if getattr(replica.keys, kind) != getattr(used, kind):
            return
        headers = {"Authorization": f"Bearer {replica.keys.api}"}
        await self._request("GET", f"{replica.management_url}/token", params={"type": kind}, headers=headers)
        replica.keys = _load_keys(replica.key_file)

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        rid = request_id.get()
        if rid:  # the same id travels to TorchServe
            kwargs["headers"] = {**(kwargs.get("headers") or {}), REQUEST_ID_HEADER: rid}
        try:
            return await self.http.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise UpstreamTimeout(f"TorchServe did not answer {method} {url} in time") from None
        except httpx.TransportError as exc:
            raise Unreachable(f"TorchServe is unreachable at {url}: {type(exc).__name__}") from None

    async def _send(self, replica: Replica, kind: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One call; on an auth failure, renew the keys and retry.

        The first renewal takes the keys in the file (a restarted TorchServe wrote new ones);
        when the file's key is the one that just failed (expired), it is regenerated.
        """
        base_headers = kwargs.pop("headers", None) or {}
        for attempt in range(3):
            auth = self._auth(replica, kind)
            used = replica.keys
            response = await self._request(method, url, headers={**base_headers, **auth}, **kwargs)
            if not (replica.key_file and _is_auth_failure(response)):
                return response
            if attempt < 2:
                await self._renew(replica, kind, used)
        raise ModelUnavailable("TorchServe refused the gateway's key even after renewing it")


def _load_keys(path: Path | None) -> Keys:
    try:
        return read_keys(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailable(f"cannot read TorchServe keys from {path}: {exc}") from None


def _predict_body(content: bytes | None, json_body: Any, fields: dict[str, Any] | None) -> dict[str, Any]:
    if json_body is not None:
        return {"content": json.dumps(json_body, separators=(",", ":")).encode(),
                "headers": {"Content-Type": "application/json"}}
    if fields:
        return {"files": {"body": ("image", content, "application/octet-stream")},
                "data": {k: str(v) for k, v in fields.items()}}
    return {"content": content, "headers": {"Content-Type": "application/octet-stream"}}


def _is_auth_failure(response: httpx.Response) -> bool:
    return response.status_code in (400, 401) and "token" in response.text.lower()


def _json_or_raise(response: httpx.Response, what: str) -> Any:
    """Map TorchServe statuses onto our errors; a handler's error body comes back as its own class."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200:
        if body is None:
            raise UpstreamError(f"TorchServe returned a non-JSON body for {what}")
        return body
    message = _message(body, response)
    if 400 <= response.status_code < 500 and response.status_code not in (404, 408):
        error = from_json(body, response.status_code)
        if error is not None:  # a worker's own error: the same class, status and message
            raise error
    if response.status_code == 404:
        raise ModelNotFound(f"TorchServe has no model {what!r}: {message}")
    if response.status_code in (503, 507):
        raise ModelUnavailable(f"{what}: {message}")
    if response.status_code == 408 or "timed out" in message.lower():
        raise UpstreamTimeout(f"{what}: {message}")
    if 400 <= response.status_code < 500:
        raise OcrServeError(message, status=response.status_code)
    raise UpstreamError(f"{what}: TorchServe answered {response.status_code}: {message}")


def _message(body: Any, response: httpx.Response) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body)
    return response.text[:500] or response.reason_phrase
