"""The FastAPI gateway: app factory, lifespan (one shared TorchServe client), error mapping."""
from __future__ import annotations

import asyncio
import sqlite3
from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.gateway.backends import Backend, TorchServeBackend
from service.gateway.errors import (BadOptions, JobsUnavailable, ModelUnavailable, OcrServeError, UpstreamError,
                            UpstreamTimeout)
from service.gateway.glued_words import load_lexicon
from service.gateway.guards import Admission, admission_middleware, error_net, security_headers
from service.gateway.observability import Metrics, middleware
from service.gateway.jobs.ocr import document_process
from service.gateway.jobs.service import JobService, open_jobs
from service.gateway.routes import health, jobs, kie, models, ner, ocr, visualize, web
from service.gateway.settings import Settings, get_settings
from service.gateway.state import AppState
from service.gateway.torchserve_client import TorchServeClient
from service.gateway.zoo import load_zoo


def create_app(settings: Settings | None = None, backend: Backend | None = None) -> FastAPI:
    """Build the app; `backend` replaces TorchServe (the in-process pipeline and tests use it)."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        client = TorchServeClient([str(u) for u in settings.inference_url],
                                  [str(u) for u in settings.management_url], settings.torchserve_key_file,
                                  settings.upstream_timeout_s, settings.connect_timeout_s,
                                  settings.replica_cooldown_s)
        app.state.ocrserve = AppState(settings, load_zoo(settings.zoo_path), client,
                                      backend or TorchServeBackend(client, settings.rec_chunk_size), metrics)
        state = app.state.ocrserve
        state.jobs = open_jobs(settings, asyncio.get_running_loop(), document_process(state))
        await asyncio.to_thread(load_lexicon)  # not on the event loop at the first glued word
        try:
            yield
        finally:
            if isinstance(state.jobs, JobService):
                await asyncio.to_thread(state.jobs.stop)
            await client.aclose()

    app = FastAPI(title="ocrserve", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="OCR over TorchServe: text detection, recognition and model management.")
    app.include_router(ocr.router)
    app.include_router(kie.router)
    app.include_router(jobs.router)
    app.include_router(ner.router)
    app.include_router(models.router)
    app.include_router(health.router)
    app.include_router(visualize.router)
    web.install(app)  # the page at /, /catalog, and /docs + /redoc with local assets
    # Added first = innermost: the error net sits under admission control, the metrics outermost.
    app.add_middleware(error_net)
    app.state.admission = Admission.for_capacity(settings.max_in_flight, settings.max_queued,
                                                 settings.queue_timeout_s, settings.queue_wait_ratio)
    app.add_middleware(admission_middleware, admission=app.state.admission)
    app.middleware("http")(middleware(metrics))
    app.add_middleware(security_headers)

    @app.get("/metrics", include_in_schema=False)
    async def _metrics():
        return metrics.response()

    @app.exception_handler(OcrServeError)
    async def _ocrserve_error(request: Request, exc: OcrServeError) -> JSONResponse:
        if isinstance(exc, (ModelUnavailable, UpstreamTimeout, UpstreamError)):
            metrics.upstream_errors.labels(type(exc).__name__).inc()
        return JSONResponse(exc.to_json(), status_code=exc.status)

    @app.exception_handler(RedisError)
    @app.exception_handler(sqlite3.Error)
    async def _job_storage_error(request: Request, exc: Exception) -> JSONResponse:
        error = JobsUnavailable(f"the job storage is unavailable ({type(exc).__name__}): retry later")
        return JSONResponse(error.to_json(), status_code=error.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Unknown paths (404) and methods (405) answer in the same error schema as everything else.
        body = {"error": HTTPStatus(exc.status_code).phrase.replace(" ", ""), "status": exc.status_code,
                "message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return JSONResponse(BadOptions(message).to_json(), status_code=422)

    return app


def app_from_env() -> FastAPI:
    """uvicorn factory entry: `uvicorn --factory service.gateway.main:app_from_env`."""
    return create_app()
