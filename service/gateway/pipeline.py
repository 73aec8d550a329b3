"""End-to-end OCR: decode -> detect -> crop -> (direction) -> recognise -> words -> (KIE), on any backend."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from handlers.api.results import Detection, Recognition
from handlers.ops.crop import Crop, crop_quad, quad_for_polygon
from service.gateway.backends import Backend
from service.gateway.directions import DEFAULT_BOTH_WAYS, BothWays, doubtful, keep_surer, turned
from service.gateway.errors import PayloadTooLarge
from service.gateway.glued_words import GLUED_GAP
from service.gateway.kie_units import attach_labels, kie_units
from service.gateway.layout import analyse_page
from service.gateway.ner_lines import tag_lines
from service.gateway.recuts import doubtful_reads, recut, surer
from service.gateway.uploads import decode_upload
from service.gateway.words import line_words
from service.gateway.work_budget import check_recognition_budget, page_columns, within_budget
from service.gateway.zoo import PhotoRoute


@dataclass(frozen=True)
class OcrRequest:
    """What to run: model names (None = skip the stage) and per-request options."""

    det: str | None
    rec: str | None
    cls: str | None = None
    # The zoo's photo route (service.gateway.photo_route): a single image that is mostly not paper goes
    # to its detector instead of `det`; None when the request named its detector or the zoo has none.
    photos: PhotoRoute | None = None
    det_options: dict[str, float] = field(default_factory=dict)
    min_text_score: float = 0.0
    kie: str | None = None
    kie_unit: str = "line"  # what KIE labels: line, segment or word (service.gateway.kie_units)
    rec_lang: str | None = None  # Tesseract recognisers only (detectors get `lang` in det_options)
    ner: str | None = None
    # The 0/180 classifier that page orientation votes with (service.gateway.orientation); None: no
    # page is ever turned. Whether a page is checked is the document option `orientation`.
    orient_cls: str | None = None
    # A page of thousands of specks costs a recognition call per chunk of them: refused (413).
    max_lines: int = 1000
    # Recogniser columns a page may cost: this many, plus rec_columns_per_byte per byte of its file.
    max_rec_columns: int = 60_000
    rec_columns_per_byte: float = 4.0
    # Crops read a second time turned 180 degrees, keeping the surer reading (service.gateway.directions).
    both_ways: BothWays = DEFAULT_BOTH_WAYS
    # Words are also cut where neighbouring characters lie this many median pitches apart (0: spaces only).
    word_gap: float = 0.0
    # Words run together are also cut where the line shows this many median pitches of gap and an
    # English lexicon agrees (service.gateway.glued_words; 0: never).
    glued_gap: float = GLUED_GAP
    # Lines read with a lower score are read again from a crop tighter across the line, keeping the
    # surer text and the mean score (service.gateway.recuts; 0: never; /ocr: the recogniser's zoo value).
    recut_below: float = 0.0


class Timer:
    """Collects wall-clock milliseconds per stage."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._start = time.perf_counter()

    def mark(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.ms[stage] = round((now - since) * 1000, 2)
        return now

    def total(self) -> dict[str, float]:
        return {**self.ms, "total": round((time.perf_counter() - self._start) * 1000, 2)}


def _crops(image: np.ndarray, polygons: list[np.ndarray]) -> list[Crop]:
    quads = [quad_for_polygon(np.asarray(p, np.float32).reshape(-1, 2)) for p in polygons]
    return [crop_quad(image, q) for q in quads]


async def run_ocr(backend: Backend, data: bytes, request: OcrRequest, max_pixels: int) -> dict[str, Any]:
    """The whole pipeline for one uploaded image; returns the /ocr response as plain data."""
    timer = Timer()
    t = time.perf_counter()
    image = await asyncio.to_thread(decode_upload, data, max_pixels)
    timer.mark("decode", t)
    page = await ocr_image(backend, data, image, request, timer)
    return {"pages": [{"page": 1, **page}], "models": used_models(request), "timings_ms": timer.total()}


def used_models(request: OcrRequest) -> dict[str, str]:
    """The `models` member of a response: which model ran each stage."""
    models = {"det": request.det or "none", "rec": request.rec or "none"}
    if request.cls:
        models["cls"] = request.cls
    if request.kie:
        models["kie"] = request.kie
    if request.ner:
        models["ner"] = request.ner
    return models


async def ocr_image(backend: Backend, data: bytes, image: np.ndarray, request: OcrRequest, timer: Timer,
                    rows: list[Detection] | None = None) -> dict[str, Any]:
    """Detect, read and label one decoded page; `data` is the same image encoded (what TorchServe
    decodes), `rows` an earlier detection of exactly this image to reuse. Returns the page
    without its number: width, height, result (and pairs with KIE)."""
    t = time.perf_counter()
    height, width = image.shape[:2]
    if rows is None:
        rows = await backend.detect(request.det, data, image, request.det_options) if request.det \
            else [Detection.whole_image(width, height)]
    if len(rows) > request.max_lines:
        raise PayloadTooLarge(f"the detector found {len(rows)} text regions on this page, over the limit of "
                              f"{request.max_lines} (OCRSERVE_MAX_LINES)")
    timer.mark("detect", t)
    result: list[dict[str, Any]] = [{"box": r.flat(), "box_score": r.score} for r in rows]
    if request.rec and rows:
        result = await _read_lines(backend, image, rows, result, request, timer, len(data))
    t = time.perf_counter()
    page: dict[str, Any] = {"width": width, "height": height, **await asyncio.to_thread(analyse_page, result)}
    timer.mark("layout", t)  # the one reading order: `result` reordered, plus `blocks` and `text`
    if request.kie:
        page["pairs"] = await _label_lines(backend, data, image, page["result"], request, timer)
    if request.ner:
        t = time.perf_counter()
        page["entities"] = await tag_lines(backend, request.ner, page["result"])
        timer.mark("ner", t)
    return page


async def _read_lines(backend: Backend, image: np.ndarray, rows: list[Detection], result: list[dict],
                      request: OcrRequest, timer: Timer, file_bytes: int) -> list[dict]:
    """Crop every detected line, check what reading them costs, turn upside-down ones (optional),
    read them (doubtful ones both ways round, optional), split words."""
    t = time.perf_counter()
    crops = await asyncio.to_thread(_crops, image, [r.polygon for r in rows])
    columns = page_columns(c.image.shape for c in crops)
    check_recognition_budget(columns, file_bytes, request.max_rec_columns, request.rec_columns_per_byte)
    t = timer.mark("crop", t)
    images = [c.image for c in crops]
    flipped = [False] * len(crops)
    turns = None
    if request.cls:
        turns = await backend.classify(request.cls, images)
        flipped = [turn.rotate for turn in turns]
        images = [turned(im) if f else im for im, f in zip(images, flipped)]
        t = timer.mark("classify", t)
    reads = await backend.recognize(request.rec, images, request.rec_lang)
    t = timer.mark("recognize", t)
    again = [i for i, d in enumerate(doubtful(crops, turns, request.both_ways)) if d]
    # A second reading that would overspend the page's budget is skipped, not refused: the page
    # was accepted for one reading of each line.
    columns += page_columns(crops[i].image.shape for i in again)
    if again and within_budget(columns, file_bytes, request.max_rec_columns, request.rec_columns_per_byte):
        second = await backend.recognize(request.rec, [turned(images[i]) for i in again], request.rec_lang)
        keep_surer(reads, flipped, dict(zip(again, second)))
        t = timer.mark("reread", t)
    t = await _recut_doubtful(backend, image, crops, flipped, reads, request, columns, file_bytes, timer, t)
    merged = _merge(result, crops, flipped, reads, request)
    timer.mark("words", t)
    return merged


async def _recut_doubtful(backend: Backend, image: np.ndarray, crops: list[Crop], flipped: list[bool],
                          reads: list[Recognition], request: OcrRequest, columns: int, file_bytes: int,
                          timer: Timer, t: float) -> float:
    """Read the lines read under `request.recut_below` again from tighter crops, in place, where the
    page's column budget has room (service.gateway.recuts); returns the time mark."""
    doubtful_lines = doubtful_reads(reads, request.recut_below)
    if not doubtful_lines:
        return t
    images = await asyncio.to_thread(lambda: [recut(image, crops[i], flipped[i]) for i in doubtful_lines])
    if not within_budget(columns + page_columns(im.shape for im in images), file_bytes, request.max_rec_columns,
                         request.rec_columns_per_byte):
        return t
    second = await backend.recognize(request.rec, images, request.rec_lang)
    for index, read in zip(doubtful_lines, second):
        reads[index] = surer(reads[index], read)
    return timer.mark("recut", t)


def _merge(result: list[dict], crops: list[Crop], flipped: list[bool], reads: list[Recognition],
           request: OcrRequest) -> list[dict]:
    """Attach text and word boxes to each detected line; drop lines read below the score floor."""
    merged = []
    for item, crop, flip, read in zip(result, crops, flipped, reads):
        if read.score < request.min_text_score or not read.text.strip():
            continue
        words = line_words(crop, read, flip, request.word_gap, request.glued_gap)
        merged.append({**item, "text": read.text, "text_score": read.score, "words": words})
    return merged


async def _label_lines(backend: Backend, data: bytes, image: np.ndarray, result: list[dict], request: OcrRequest,
                       timer: Timer) -> list[dict]:
    """KIE over the read lines, or their segments or words (`request.kie_unit`): adds `label` /
    `label_id` / `label_score` to each line, or `segments` carrying them; returns the pairs."""
    t = time.perf_counter()
    if not result:
        timer.mark("kie", t)
        return []
    units = kie_units(result, request.kie_unit)
    instances = [{"box": u.box, "text": u.text} for u in units]
    labelled = (await backend.kie(request.kie, data, image, {"instances": instances})).to_json()
    pairs = attach_labels(result, units, labelled, request.kie_unit)
    timer.mark("kie", t)
    return pairs
