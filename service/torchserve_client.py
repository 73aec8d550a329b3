"""Async client of TorchServe's inference and management APIs; translates failures into our errors."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from service.errors import (ModelNotFound, ModelUnavailable, OcrServeError, UpstreamError,
                            UpstreamTimeout)
from service.observability import REQUEST_ID_HEADER, request_id


@dataclass(frozen=True)
class Keys:
    inference: str
    management: str
    api: str


def read_keys(path: Path) -> Keys:
    """TorchServe's key_file.json (written at start and rewritten when keys are regenerated)."""
    raw = json.loads(Path(path).read_text())
    return Keys(raw["inference"]["key"], raw["management"]["key"], raw["API"]["key"])


class TorchServeClient:
    """One shared HTTP client per process; re-reads TorchServe keys when they stop working."""

    def __init__(self, inference_url: str, management_url: str, key_file: Path | None = None,
                 timeout_s: float = 120.0, connect_timeout_s: float = 5.0):
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self.http = httpx.AsyncClient(timeout=timeout, limits=limits)
        self.inference_url = inference_url.rstrip("/")
        self.management_url = management_url.rstrip("/")
        self.key_file = key_file
        self._keys: Keys | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    def _load_keys(self) -> Keys:
        try:
            return read_keys(self.key_file)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelUnavailable(f"cannot read TorchServe keys from {self.key_file}: {exc}") from None

    def _auth(self, kind: str) -> dict[str, str]:
        if self.key_file is None:
            return {}
        if self._keys is None:
            self._keys = self._load_keys()
        return {"Authorization": f"Bearer {getattr(self._keys, kind)}"}

    async def _renew(self, kind: str, used: Keys) -> None:
        """After an auth failure: take new keys from the file (TorchServe restarted), else regenerate
        the expired key with the API key (TorchServe then rewrites key_file.json)."""
        self._keys = self._load_keys()
        if getattr(self._keys, kind) != getattr(used, kind):
            return
        headers = {"Authorization": f"Bearer {self._keys.api}"}
        await self._request("GET", f"{self.management_url}/token", params={"type": kind}, headers=headers)
        self._keys = self._load_keys()

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        rid = request_id.get()
        if rid:  # the same id in TorchServe's access log as in ours
            kwargs["headers"] = {**(kwargs.get("headers") or {}), REQUEST_ID_HEADER: rid}
        try:
            return await self.http.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise UpstreamTimeout(f"TorchServe did not answer {method} {url} in time") from None
        except httpx.TransportError as exc:
            raise ModelUnavailable(f"TorchServe is unreachable at {url}: {type(exc).__name__}") from None

    async def _send(self, kind: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One call; on an auth failure, renew the keys and retry.

        The first renewal takes the keys in the file (a restarted TorchServe wrote new ones);
        when the file's key is the one that just failed (expired), it is regenerated.
        """
        base_headers = kwargs.pop("headers", None) or {}
        for attempt in range(3):
            auth = self._auth(kind)
            used = self._keys
            response = await self._request(method, url, headers={**base_headers, **auth}, **kwargs)
            if not (self.key_file and _is_auth_failure(response)):
                return response
            if attempt < 2:
                await self._renew(kind, used)
        raise ModelUnavailable("TorchServe refused the gateway's key even after renewing it")

    async def predict(self, model: str, *, content: bytes | None = None, json_body: Any = None,
                      fields: dict[str, Any] | None = None) -> Any:
        """POST /predictions/<model>; returns the decoded JSON body.

        TorchServe hands handlers the body and multipart parts but not query parameters, so
        per-request options travel as extra form `fields` beside the image part.
        """
        url = f"{self.inference_url}/predictions/{model}"
        kwargs: dict[str, Any] = {}
        if json_body is not None:
            kwargs["content"] = json.dumps(json_body, separators=(",", ":")).encode()
            kwargs["headers"] = {"Content-Type": "application/json"}
        elif fields:
            kwargs["files"] = {"body": ("image", content, "application/octet-stream")}
            kwargs["data"] = {k: str(v) for k, v in fields.items()}
        else:
            kwargs["content"] = content
            kwargs["headers"] = {"Content-Type": "application/octet-stream"}
        response = await self._send("inference", "POST", url, **kwargs)
        return _json_or_raise(response, model)

    async def management(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """A management API call; returns its JSON body."""
        response = await self._send("management", method, f"{self.management_url}{path}", params=params)
        return _json_or_raise(response, path)


def _is_auth_failure(response: httpx.Response) -> bool:
    return response.status_code in (400, 401) and "token" in response.text.lower()


def _json_or_raise(response: httpx.Response, what: str) -> Any:
    """Map TorchServe statuses onto our errors; per-row handler errors keep their status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200:
        if body is None:
            raise UpstreamError(f"TorchServe returned a non-JSON body for {what}")
        return body
    message = _message(body, response)
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
