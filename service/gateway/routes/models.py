"""Model management through the gateway (admin key required): list, load, scale, unload."""
from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from service.gateway.errors import ManagementDisabled, ModelNotFound, OcrServeError, Unauthorized
from service.gateway.schemas import ErrorResponse, ModelList, ModelStatus, WorkerInfo
from service.gateway.state import AppState, State, get_state
from service.gateway.zoo import load_zoo

_ERRORS = {c: {"model": ErrorResponse} for c in (401, 403, 404, 409, 422, 503, 504)}


def require_admin(request: Request, state: Annotated[AppState, Depends(get_state)]) -> None:
    """Bearer admin key from settings; without a configured key the routes are off."""
    expected = state.settings.admin_key
    if expected is None:
        raise ManagementDisabled("model management is off: set OCRSERVE_ADMIN_KEY to turn it on")
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise Unauthorized("missing or wrong admin key (Authorization: Bearer <key>)")


router = APIRouter(prefix="/models", tags=["management"], dependencies=[Depends(require_admin)],
                   responses=_ERRORS)


def _status(name: str, task: str | None, described: Any) -> ModelStatus:
    workers = [WorkerInfo(id=str(w.get("id")), status=w.get("status", "UNKNOWN"), gpu=w.get("gpu"))
               for w in (described[0].get("workers", []) if described else [])]
    states = {w.status for w in workers}
    status = "READY" if workers and states == {"READY"} else (sorted(states - {"READY"}) or ["NO_WORKERS"])[0]
    return ModelStatus(name=name, task=task, loaded=True, status=status, workers=workers)


def _zoo_name(state: AppState, name: str) -> str:
    if name not in state.zoo.models:  # archived since start-up? (`ocrserve archive` adds to local.yaml)
        state.zoo = load_zoo(state.settings.zoo_path)
    if name not in state.zoo.models:
        raise ModelNotFound(f"unknown model {name!r}; available: {', '.join(state.zoo.names())}")
    return name


async def describe(state: AppState, name: str) -> ModelStatus:
    """Live status of one model from TorchServe."""
    task = state.zoo.models[name].task if name in state.zoo.models else None
    return _status(name, task, await state.client.management("GET", f"/models/{name}"))


@router.get("", response_model=ModelList)
async def list_models(state: State) -> ModelList:
    """Every zoo model, loaded or not, with the live worker status of the loaded ones."""
    listed = await state.client.management("GET", "/models", params={"limit": 1000})
    loaded = [m["modelName"] for m in listed.get("models", [])]
    statuses = [await describe(state, name) for name in loaded]
    statuses += [ModelStatus(name=n, task=state.zoo.models[n].task, loaded=False, status="NOT_LOADED")
                 for n in state.zoo.names() if n not in loaded]
    return ModelList(models=statuses)


@router.post("/{name}", response_model=ModelStatus)
async def load_model(name: str, state: State, workers: Annotated[int, Query(ge=1, le=16)] = 1) -> ModelStatus:
    """Load a model from the model store by zoo name (never by URL)."""
    _zoo_name(state, name)
    if not (state.settings.model_store / f"{name}.mar").is_file():
        raise ModelNotFound(f"no archive for {name!r} in the model store: run `ocrserve archive {name}`")
    params = {"url": f"{name}.mar", "model_name": name, "initial_workers": workers, "synchronous": "true"}
    try:
        await state.client.management("POST", "/models", params=params)
    except OcrServeError as exc:
        if exc.status == 409:
            raise OcrServeError(f"model {name!r} is already loaded", status=409) from None
        raise
    return await describe(state, name)


@router.put("/{name}", response_model=ModelStatus)
async def scale_model(name: str, state: State, workers: Annotated[int, Query(ge=1, le=16)]) -> ModelStatus:
    """Set the number of workers of a loaded model."""
    _zoo_name(state, name)  # never pass a caller's string into TorchServe's management URL
    params = {"min_worker": workers, "max_worker": workers, "synchronous": "true"}
    await state.client.management("PUT", f"/models/{name}", params=params)
    return await describe(state, name)


@router.delete("/{name}")
async def unload_model(name: str, state: State) -> dict:
    """Unload a model; its archive stays in the store."""
    _zoo_name(state, name)
    await state.client.management("DELETE", f"/models/{name}")
    return {"name": name, "loaded": False}
