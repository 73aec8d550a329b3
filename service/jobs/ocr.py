"""The OCR a job runs: the same options and pipeline as POST /ocr, page by page, with progress."""
from __future__ import annotations

import time
from typing import Any

from service.jobs.queue import Process
from service.jobs.service import run_pages
from service.jobs.store import JobRecord, JobStore
from service.pipeline import run_ocr
from service.routes.ocr import OcrOptions, build_request


def document_process(state) -> Process:
    """A `Process` bound to the gateway's state (zoo, settings, backend)."""

    async def process(record: JobRecord, data: bytes, store: JobStore) -> dict[str, Any]:
        start = time.perf_counter()
        request = build_request(state, OcrOptions.model_validate(record.options))
        models: dict[str, str] = {}

        async def run_page(index: int) -> dict[str, Any]:
            response = await run_ocr(state.backend, data, request, state.settings.max_pixels)
            models.update(response["models"])
            return response["pages"][index]

        pages = await run_pages(record, store, 1, run_page, state.settings.jobs_page_concurrency)
        if not models:  # every page came from before a restart
            models = {"det": request.det or "none", "rec": request.rec or "none"}
        return {"pages": pages, "models": models,
                "timings_ms": {"total": round((time.perf_counter() - start) * 1000, 2)}}

    return process
