"""Liveness and readiness."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.gateway.errors import OcrServeError
from service.gateway.routes.models import describe
from service.gateway.schemas import Readiness
from service.gateway.state import State

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    """The gateway process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "a model is missing or not READY"}})
async def readyz(state: State) -> JSONResponse:
    """Every expected model (the zoo defaults, or OCRSERVE_READY_MODELS) is loaded in TorchServe
    with all workers READY (asked for real)."""
    models, ready = {}, True
    for name in state.settings.ready_models or state.zoo.default_names():
        try:
            status = (await describe(state, name)).status
        except OcrServeError as exc:
            status = f"UNAVAILABLE: {exc.message}"
        models[name] = status
        ready = ready and status == "READY"
    return JSONResponse({"ready": ready, "models": models}, status_code=200 if ready else 503)
