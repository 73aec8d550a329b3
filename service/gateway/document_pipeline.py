"""OCR of a whole upload: every selected page through the pipeline, several pages at a time.

`ocr_document` is the one entry point, for the /ocr route and for anything that runs outside a
request (async jobs): bytes + content type + options in, the response dict and the page images
out. A page is one of: the PDF's own text layer (`text_layer=use|auto`), or OCR after turning
the page upright (`orientation`). Boxes are in the pixels of the page as returned in `images`,
i.e. *after* it was turned by `rotation` degrees clockwise.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from handlers.api.results import Detection
from handlers.ops.image_io import encode_png
from service.gateway.backends import Backend
from service.gateway.documents import PDF, Document, check_page_count, open_document, parse_pages
from service.gateway.errors import BadOptions, ModelUnavailable
from service.gateway.orientation import is_sideways, pieces, turn, turn_rows, upside_down, vote_rows
from service.gateway.pdf_text import TextLayer
from service.gateway.layout import analyse_page
from service.gateway.photo_route import route_photo
from service.gateway.pipeline import OcrRequest, Timer, _crops, ocr_image, used_models
from service.gateway.settings import Settings

# Chosen by bench/documents.py dpi (README "Documents"): the lowest dpi that still reads 4-5 pt
# print (CER <= 0.8; 100 dpi: 50); 200 dpi is about a third slower and no better from 5 pt up, and
# larger pages are shrunk to the detector's 2000 px cap anyway.
DEFAULT_DPI = 150
TextLayerMode = Literal["ocr", "use", "auto"]


@dataclass(frozen=True)
class DocumentOptions:
    """Per-request document options (the /ocr query or form fields of the same names)."""

    dpi: float = DEFAULT_DPI
    pages: str | None = None
    text_layer: TextLayerMode = "ocr"
    # "auto" | "none"; None = auto for PDFs and multi-page TIFFs, none for single images
    # (photos keep their exact pre-document behaviour unless asked).
    orientation: str | None = None


@dataclass
class DocumentResult:
    response: dict[str, Any]
    images: list[np.ndarray]  # BGR, one per entry of response["pages"], in that order, as turned


async def ocr_document(data: bytes, content_type: str, options: DocumentOptions, request: OcrRequest,
                       backend: Backend, settings: Settings) -> DocumentResult:
    """OCR the selected pages of an upload (PDF, TIFF or image); raises the gateway's errors."""
    started = time.perf_counter()
    doc = await asyncio.to_thread(open_document, data, content_type, settings.max_pixels)
    try:
        numbers, orient = plan_document(doc, options, request, settings)
        routed = await route_photo(request, doc)
        load_ms = round((time.perf_counter() - started) * 1000, 2)
        gate = asyncio.Semaphore(settings.page_concurrency)

        async def one(number: int) -> tuple[dict, np.ndarray, Timer]:
            nonlocal routed
            async with gate:
                try:
                    return await run_page(doc, number, options, routed, backend, orient)
                except ModelUnavailable:
                    if routed is request:
                        raise
                    # the photo route's models are not served here (not loaded, or down): the defaults read the photo
                    routed = request
                    return await run_page(doc, number, options, request, backend, orient)

        failure = None
        try:
            async with asyncio.TaskGroup() as group:  # the first failing page cancels the others
                tasks = [group.create_task(one(n)) for n in numbers]
        except* Exception as failed:
            failure = _first(failed)
        if failure is not None:  # raised outside except*: CPython < 3.11.4 (Debian 12's python3.11 3.11.2)
            raise failure from None  # wraps an exception raised inside except* in an ExceptionGroup
    finally:
        await asyncio.to_thread(doc.close)
    done = [task.result() for task in tasks]
    response = document_response(doc, options, routed, orient, [page for page, _, _ in done],
                                 _timings(load_ms, [timer for _, _, timer in done], started))
    return DocumentResult(response, [image for _, image, _ in done])


def plan_document(doc: Document, options: DocumentOptions, request: OcrRequest,
                  settings: Settings) -> tuple[list[int], bool]:
    """The page numbers to read and whether pages are turned upright; the 4xx of a bad request."""
    numbers = parse_pages(options.pages, doc.count)
    check_page_count(len(numbers), doc.count, settings.max_pages)
    if options.text_layer == "use" and doc.kind != PDF:
        raise BadOptions("text_layer=use needs a PDF: images have no text layer (use ocr or auto)")
    return numbers, _orients(doc, options, request)


def document_response(doc: Document, options: DocumentOptions, request: OcrRequest, orient: bool,
                      pages: list[dict[str, Any]], timings_ms: dict[str, float]) -> dict[str, Any]:
    """The /ocr response around the pages read."""
    models = used_models(request)
    if orient:
        models["orientation"] = request.orient_cls or "geometry"
    return {"pages": pages, "models": models, "timings_ms": timings_ms,
            "document": {"type": doc.kind, "page_count": doc.count,
                         **({"dpi": options.dpi} if doc.kind == PDF else {})}}


def _first(group: BaseExceptionGroup) -> BaseException:
    """The error a client should see: the first one raised by any page."""
    error = group.exceptions[0]
    return _first(error) if isinstance(error, BaseExceptionGroup) else error


def _orients(doc: Document, options: DocumentOptions, request: OcrRequest) -> bool:
    mode = options.orientation or ("auto" if doc.kind == PDF or doc.count > 1 else "none")
    if mode not in ("auto", "none"):
        raise BadOptions(f"orientation must be auto or none, not {mode!r}")
    if mode == "auto" and not request.det:
        if options.orientation:
            raise BadOptions("orientation=auto needs a detector: it cannot run with det=none")
        return False
    return mode == "auto"


async def run_page(doc: Document, number: int, options: DocumentOptions, request: OcrRequest,
                   backend: Backend, orient: bool) -> tuple[dict[str, Any], np.ndarray, Timer]:
    """One page: render/decode, then its text layer or (turn upright +) OCR."""
    timer = Timer()
    t = time.perf_counter()
    page = await asyncio.to_thread(doc.page, number, options.dpi)
    t = timer.mark("render" if doc.kind == PDF else "decode", t)
    image = page.image
    if options.text_layer != "ocr" and doc.kind == PDF:
        height, width = image.shape[:2]
        layer = await asyncio.to_thread(doc.text_layer, number, (width, height))
        t = timer.mark("text_layer", t)
        if options.text_layer == "use" or layer.usable():
            return _text_layer_page(number, image, layer), image, timer
    # A single image goes to TorchServe as uploaded, exactly as before documents existed.
    data = doc.data if doc.kind != PDF and doc.count == 1 else await asyncio.to_thread(encode_png, image)
    rotation, rows = 0, None
    if orient:
        rotation, rows = await page_rotation(backend, data, image, request, timer)
        if rotation:
            image = turn(image, rotation)
            data = await asyncio.to_thread(encode_png, image)
    result = await ocr_image(backend, data, image, request, timer, rows)
    return {"page": number, **result, "rotation": rotation, "text_source": "ocr"}, image, timer


async def page_rotation(backend: Backend, data: bytes, image: np.ndarray, request: OcrRequest,
                        timer: Timer) -> tuple[int, list[Detection] | None]:
    """Degrees clockwise that make the page upright, and the detection to reuse when that is 0."""
    t = time.perf_counter()
    rows = await backend.detect(request.det, data, image, request.det_options)
    height, width = image.shape[:2]
    polygons = [r.flat() for r in rows]
    rotation = 90 if is_sideways(polygons) else 0
    turned = turn_rows(polygons, rotation, (width, height)) if rotation else polygons
    picks = vote_rows(turned)
    if picks and request.orient_cls:
        crops = await asyncio.to_thread(_crops, turn(image, rotation), [turned[i] for i in picks])
        parts = [part for crop in crops for part in pieces(crop.image)]
        turns = await backend.classify(request.orient_cls, parts)
        if upside_down(turns, [part.shape[1] for part in parts]):
            rotation += 180
    timer.mark("orientation", t)
    return rotation, (rows if rotation == 0 else None)


def _text_layer_page(number: int, image: np.ndarray, layer: TextLayer) -> dict[str, Any]:
    height, width = image.shape[:2]
    result = [{"box": _rounded(line.box), "box_score": 1.0, "text": line.text, "text_score": 1.0,
               "words": [{"box": _rounded(w.box), "text": w.text, "text_score": 1.0} for w in line.words]}
              for line in layer.lines]
    # the PDF's own order is the order its producer wrote the text in: lay it out like OCR lines
    return {"page": number, "width": width, "height": height, **analyse_page(result), "rotation": 0,
            "text_source": "text_layer"}


def _rounded(box: list[float]) -> list[float]:
    return [round(v, 1) for v in box]


def _timings(load_ms: float, timers: list[Timer], started: float) -> dict[str, float]:
    """Stage times summed over pages (pages overlap, so the sum can exceed `total`, the wall time)."""
    stages: dict[str, float] = {"load": load_ms}
    for timer in timers:
        for stage, ms in timer.ms.items():
            stages[stage] = round(stages.get(stage, 0.0) + ms, 2)
    return {**stages, "total": round((time.perf_counter() - started) * 1000, 2)}
