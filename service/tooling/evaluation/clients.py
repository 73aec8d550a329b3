"""Synchronous ways to call the OCR pipeline: in-process or against a running gateway URL."""
from __future__ import annotations

import asyncio
from typing import Any, Callable

import httpx

from handlers.ops.image_io import DEFAULT_MAX_PIXELS
from service.tooling.local_backend import LocalBackend
from service.gateway.photo_route import request_route, route_image
from service.gateway.pipeline import OcrRequest, run_ocr
from service.gateway.zoo import Zoo, load_zoo

OcrFn = Callable[..., dict]


def local_ocr(zoo: Zoo | None = None, threads: int = 1) -> OcrFn:
    """`ocr(data, det=..., rec=..., cls=..., **det_options)` running the pipeline in this process; with the
    default detector, photos go to the zoo's photo route as /ocr sends them (`photos`)."""
    zoo = zoo or load_zoo()
    backend = LocalBackend(zoo, threads=threads)
    loop = asyncio.new_event_loop()

    def ocr(data: bytes, det: str | None = "default", rec: str | None = "default", cls: str | None = None,
            max_pixels: int = DEFAULT_MAX_PIXELS, kie: str | None = None, rec_min_score: float | None = None,
            **det_options: Any) -> dict:
        asked_det = None if det == "default" else det or "none"  # None: no detector, a choice too
        asked_rec = None if rec == "default" else rec or "none"
        det = zoo.defaults["det"] if det == "default" else det
        rec = zoo.defaults["rec"] if rec == "default" else rec
        request = OcrRequest(det=det, rec=rec, cls=cls, det_options=det_options, kie=kie,
                             min_text_score=zoo.rec_floor(rec, rec_min_score), recut_below=zoo.recut_bar(rec),
                             photos=request_route(zoo.photos, asked_det, asked_rec, det))
        return loop.run_until_complete(run_ocr(backend, data, route_image(request, data), max_pixels))

    ocr.backend = backend  # type: ignore[attr-defined]
    ocr.zoo = zoo  # type: ignore[attr-defined]
    return ocr


def remote_ocr(url: str, timeout: float = 120.0) -> OcrFn:
    """The same call against a running gateway (POST {url}/ocr)."""
    client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def ocr(data: bytes, det: str | None = "default", rec: str | None = "default", cls: str | None = None,
            **det_options: Any) -> dict:
        params: dict[str, Any] = dict(det_options)
        if det != "default":
            params["det"] = det or "none"
        if rec != "default":
            params["rec"] = rec or "none"
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
