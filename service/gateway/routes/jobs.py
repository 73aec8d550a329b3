"""Asynchronous OCR jobs: POST /jobs (202 + id), GET /jobs/{id}, GET /jobs/{id}/result, DELETE."""
from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from service.gateway.errors import JobFailed, JobNotReady, JobsUnavailable
from service.gateway.formats.response import formatted_response
from service.gateway.jobs.ocr import check_document, page_images
from service.gateway.jobs.service import JobService
from service.gateway.jobs.store import JobRecord
from service.gateway.routes.models import require_admin
from service.gateway.routes.ocr import OcrOptions, merge_form
from service.gateway.schemas import ErrorResponse, JobList, JobStatus, OcrResponse
from service.gateway.state import State
from service.gateway.uploads import read_upload

router = APIRouter(prefix="/jobs", tags=["jobs"])


def get_jobs(state: State) -> JobService:
    if not isinstance(state.jobs, JobService):
        raise state.jobs or JobsUnavailable("jobs are off on this gateway")
    return state.jobs


Jobs = Annotated[JobService, Depends(get_jobs)]


def _status(record: JobRecord) -> JobStatus:
    return JobStatus(id=record.id, state=record.state, pages_done=record.pages_done,
                     pages_total=record.pages_total, created=record.created, finished=record.finished,
                     error=ErrorResponse(**record.error) if record.error else None,
                     result=f"/jobs/{record.id}/result")


@router.post("", status_code=202, response_model=JobStatus,
             responses={c: {"model": ErrorResponse} for c in (400, 404, 413, 415, 422, 503)})
async def submit(request: Request, state: State, jobs: Jobs, query: Annotated[OcrOptions, Query()]) -> JSONResponse:
    """Queue the OCR of an upload (same inputs and options as POST /ocr); poll GET /jobs/{id}."""
    data, fields = await read_upload(request, state.settings.max_upload_bytes)
    options = merge_form(query, fields)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # unknown models, bad options, unreadable documents and page limits fail now, not later
    pages = await asyncio.to_thread(check_document, state, data, content_type, options)
    record = await asyncio.to_thread(jobs.submit, data, content_type, options.model_dump(exclude_unset=True), pages)
    status = _status(record)
    return JSONResponse(status.model_dump(mode="json"), status_code=202,
                        headers={"Location": f"/jobs/{record.id}"})


@router.get("/{job_id}", response_model=JobStatus, responses={c: {"model": ErrorResponse} for c in (404, 503)})
def status(job_id: str, jobs: Jobs) -> JobStatus:  # the store's SQLite calls run in FastAPI's thread pool
    """State of a job: queued, running, done or failed; pages done out of the total."""
    return _status(jobs.get(job_id))


@router.get("/{job_id}/result", response_model=OcrResponse, response_model_exclude_none=True,
            responses={**{c: {"model": ErrorResponse} for c in (400, 404, 409, 413, 422, 503)},
                       200: {"content": {t: {} for t in ("text/plain", "application/xhtml+xml", "application/xml",
                                                          "application/pdf")}}})
async def result(job_id: str, jobs: Jobs, state: State,
                 format: Literal["json", "text", "hocr", "alto", "pdf"] = "json") -> Any:
    """The finished job's /ocr response, in any /ocr format; a failed job answers with its own
    error and status."""
    record = await asyncio.to_thread(jobs.get, job_id)  # SQLite off the event loop
    if record.state == "failed":
        raise JobFailed(record.error or {})
    if record.state != "done":
        raise JobNotReady(f"the job is {record.state} ({record.pages_done} of "
                          f"{record.pages_total if record.pages_total is not None else '?'} pages done)")
    response = await asyncio.to_thread(jobs.store.result, job_id)
    if format == "json":
        return response
    images = (await asyncio.to_thread(lambda: page_images(state, record, jobs.store.input(job_id), response))
              if format == "pdf" else [])
    return await formatted_response(format, response, images)


@router.delete("/{job_id}", status_code=204, responses={c: {"model": ErrorResponse} for c in (404, 503)})
def delete(job_id: str, jobs: Jobs) -> Response:
    """Forget a job and its data; a running job stops at its next page."""
    jobs.delete(job_id)
    return Response(status_code=204)


@router.get("", response_model=JobList, dependencies=[Depends(require_admin)],
            responses={c: {"model": ErrorResponse} for c in (401, 403, 503)})
def list_jobs(jobs: Jobs) -> JobList:
    """Every job (admin key required): without the key a job is visible only to who holds its id."""
    return JobList(jobs=[_status(r) for r in jobs.list()])
