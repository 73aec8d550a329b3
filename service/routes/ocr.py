"""POST /ocr: end-to-end OCR of one uploaded image."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.errors import BadOptions, ModelNotFound
from service.pipeline import OcrRequest, run_ocr
from service.schemas import ErrorResponse, OcrResponse
from service.state import State
from service.uploads import read_upload

router = APIRouter()
DET_OPTIONS = ("mask_thr", "min_text_score", "unclip_ratio", "limit_side_len", "max_side_len")


class OcrOptions(BaseModel):
    """Options of /ocr, as query parameters or multipart form fields."""

    model_config = ConfigDict(extra="forbid")

    det: str | None = Field(None, description="detector name, or 'none' (whole image is one line)")
    rec: str | None = Field(None, description="recogniser name, or 'none' (detection only)")
    cls: bool | None = Field(None, description="classify text direction (0/180) before reading")
    mask_thr: float | None = Field(None, ge=0, le=1, description="DB binarisation threshold")
    min_text_score: float | None = Field(None, ge=0, le=1, description="DB minimum box score")
    unclip_ratio: float | None = Field(None, ge=0.5, le=5, description="DB box expansion")
    limit_side_len: int | None = Field(None, ge=32, le=4096, description="detector resize limit (px)")
    max_side_len: int | None = Field(None, ge=32, le=8192, description="cap on the resized long side (px)")
    rec_min_score: float = Field(0.0, ge=0, le=1, description="drop lines read with a lower text score")
    kie: str | None = Field(None, description="KIE model labelling the read lines (e.g. sdmgr); off by default")


def pick_model(state, task: str, requested: str | None, default: str | None) -> str | None:
    if requested is not None and requested.lower() == "none":
        return None
    name = requested or default
    if name is None:
        return None
    if name not in state.zoo.models or state.zoo.models[name].task != task:
        known = ", ".join(state.zoo.names(task))
        raise ModelNotFound(f"unknown {task} model {name!r}; available: {known}")
    return name


def build_request(state, options: OcrOptions) -> OcrRequest:
    """Resolve model names (defaults, 'none') and split detector options."""
    defaults = state.zoo.defaults
    use_cls = state.settings.text_direction_default if options.cls is None else options.cls
    det_options = {k: getattr(options, k) for k in DET_OPTIONS if getattr(options, k) is not None}
    rec = pick_model(state, "rec", options.rec, defaults.get("rec"))
    kie = pick_model(state, "kie", options.kie, None)
    if kie and not rec:
        raise BadOptions("kie labels the recognised text: it cannot run with rec=none")
    return OcrRequest(
        det=pick_model(state, "det", options.det, defaults.get("det")), rec=rec,
        cls=pick_model(state, "cls", None, defaults.get("cls")) if use_cls else None,
        det_options=det_options, min_text_score=options.rec_min_score, kie=kie,
        max_lines=state.settings.max_lines)


def _merge_form(query: OcrOptions, fields: dict[str, str]) -> OcrOptions:
    if not fields:
        return query
    try:
        return OcrOptions.model_validate({**fields, **query.model_dump(exclude_unset=True)})
    except ValidationError as exc:
        raise BadOptions(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


_UPLOAD_DOC = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}}}},
    "image/*": {"schema": {"type": "string", "format": "binary"}}}}}


@router.post("/ocr", response_model=OcrResponse, openapi_extra=_UPLOAD_DOC,
             responses={c: {"model": ErrorResponse} for c in (400, 404, 413, 415, 422, 503, 504)})
async def ocr(request: Request, state: State, query: Annotated[OcrOptions, Query()]) -> dict:
    """Detect and read the text of an image (multipart `file` or a raw image/* body)."""
    data, fields = await read_upload(request, state.settings.max_upload_bytes)
    options = _merge_form(query, fields)
    result = await run_ocr(state.backend, data, build_request(state, options), state.settings.max_pixels)
    state.metrics.observe_stages(result["timings_ms"])
    return result
