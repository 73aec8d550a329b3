"""The OCR a job runs: the same options and document pipeline as POST /ocr, page by page, each
page stored as soon as it is read (a job taken over after a restart skips the pages it has)."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from service.gateway.document_pipeline import document_response, plan_document, run_page
from service.gateway.documents import open_document
from service.gateway.jobs.queue import Process
from service.gateway.jobs.service import run_pages
from service.gateway.jobs.store import JobRecord, JobStore
from service.gateway.orientation import turn
from service.gateway.photo_route import route_photo
from service.gateway.routes.ocr import OcrOptions, build_request, document_options


def check_document(state, data: bytes, content_type: str, options: OcrOptions) -> int:
    """At submission: the pages a job will read, or the 4xx /ocr would give for this upload."""
    doc = open_document(data, content_type, state.settings.max_pixels)
    try:
        numbers, _ = plan_document(doc, document_options(options), build_request(state, options), state.settings)
        return len(numbers)
    finally:
        doc.close()


def page_images(state, record: JobRecord, data: bytes | None, response: dict[str, Any]) -> list[np.ndarray]:
    """The pages of a finished job as it read them: rendered again from its input, turned by
    their `rotation` (what a searchable PDF lays under the text)."""
    if data is None:
        return []
    dpi = OcrOptions.model_validate(record.options).dpi
    doc = open_document(data, record.content_type, state.settings.max_pixels)
    try:
        return [turn(doc.page(page["page"], dpi).image, page.get("rotation", 0)) for page in response["pages"]]
    finally:
        doc.close()


def document_process(state) -> Process:
    """A `Process` bound to the gateway's state (zoo, settings, backend)."""

    async def process(record: JobRecord, data: bytes, store: JobStore) -> dict[str, Any]:
        start = time.perf_counter()
        options = OcrOptions.model_validate(record.options)
        request, doc_options = build_request(state, options), document_options(options)
        doc = await asyncio.to_thread(open_document, data, record.content_type, state.settings.max_pixels)
        try:
            numbers, orient = plan_document(doc, doc_options, request, state.settings)
            request = await route_photo(request, doc)

            async def read(index: int) -> dict[str, Any]:
                page, _, _ = await run_page(doc, numbers[index], doc_options, request, state.backend, orient)
                return page

            pages = await run_pages(record, store, len(numbers), read, state.settings.jobs_page_concurrency)
        finally:
            await asyncio.to_thread(doc.close)
        return document_response(doc, doc_options, request, orient, pages,
                                 {"total": round((time.perf_counter() - start) * 1000, 2)})

    return process
