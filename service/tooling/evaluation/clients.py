"""Synchronous ways to call the OCR pipeline: in-process or against a running gateway URL."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, Callable

import httpx

from handlers.ops.image_io import DEFAULT_MAX_PIXELS
from service.tooling.local_backend import LocalBackend
from service.gateway.photo_route import route_image
from service.gateway.pipeline import OcrRequest, run_ocr
from service.gateway.routes.ocr import OcrOptions, build_request
from service.gateway.settings import Settings, load_settings
from service.gateway.zoo import Zoo, load_zoo

OcrFn = Callable[..., dict]


def service_request(zoo: Zoo, settings: Settings | None = None, **options: Any) -> OcrRequest:
    """The request POST /ocr runs for these options (fields of its query: det, rec, cls, kie,
    mask_thr, ...; the rest take the service's defaults), built by the gateway's own code, so
    that an in-process run or a benchmark reads a page exactly as the service would."""
    state = SimpleNamespace(zoo=zoo, settings=settings or load_settings())
    return build_request(state, OcrOptions(**options))


def local_ocr(zoo: Zoo | None = None, threads: int = 1, settings: Settings | None = None) -> OcrFn:
    """`ocr(data, det=..., rec=..., cls=..., **options)` running the pipeline of POST /ocr on one
    image in this process: `options` are /ocr's (detector options, kie, rec_min_score, both_ways,
    ...), "default" or an absent det / rec is the zoo's choice (photos go to its photo route as /ocr
    sends them), None is no detector / recogniser, and `cls` switches the direction classifier."""
    zoo = zoo or load_zoo()
    settings = settings or load_settings()
    backend = LocalBackend(zoo, threads=threads)
    loop = asyncio.new_event_loop()

    def ocr(data: bytes, det: str | None = "default", rec: str | None = "default", cls: bool | None = None,
            max_pixels: int = DEFAULT_MAX_PIXELS, **options: Any) -> dict:
        if det != "default":
            options["det"] = det or "none"
        if rec != "default":
            options["rec"] = rec or "none"
        request = service_request(zoo, settings, cls=cls, **options)
        return loop.run_until_complete(run_ocr(backend, data, route_image(request, data), max_pixels))

    ocr.backend = backend  # type: ignore[attr-defined]
    ocr.zoo = zoo  # type: ignore[attr-defined]
    return ocr


def remote_ocr(url: str, timeout: float = 120.0) -> OcrFn:
    """The same call against a running gateway (POST {url}/ocr); None options are the service's defaults."""
    client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def ocr(data: bytes, det: str | None = "default", rec: str | None = "default", cls: bool | None = None,
            **options: Any) -> dict:
        params: dict[str, Any] = dict(options)
        if det != "default":
            params["det"] = det or "none"
        if rec != "default":
            params["rec"] = rec or "none"
        if cls is not None:
            params["cls"] = "true" if cls else "false"
        response = client.post("/ocr", params=params, files={"file": ("image", data, "application/octet-stream")})
        response.raise_for_status()
        return response.json()

    return ocr


def recognizer_from(ocr: OcrFn, rec: str | None = "default") -> Callable[[list[bytes]], list[dict]]:
    """Read word crops through the pipeline with detection off (each crop is one line)."""

    def recognize(crops: list[bytes]) -> list[dict]:
        out = []
        for data in crops:
            page = ocr(data, det=None, rec=rec)["pages"][0]
            line = page["result"][0] if page["result"] else {"text": "", "text_score": 0.0}
            out.append({"text": line["text"], "score": line["text_score"]})
        return out

    return recognize
