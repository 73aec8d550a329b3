"""POST /kie: key information extraction over the caller's own boxes and texts (no OCR)."""
from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from handlers.api.codecs import decode_base64
from service.gateway.errors import BadOptions
from service.gateway.kie_input import check_instances
from service.gateway.model_choice import required_model
from service.gateway.schemas import ErrorResponse, KieResponse
from service.gateway.state import State
from service.gateway.uploads import read_json_object, read_upload

router = APIRouter()
_JSON_SLACK = 64 * 1024  # room for the boxes and texts beside a base64 image


def _image_bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    return decode_base64(value)


async def read_kie_request(request: Request, limit: int) -> tuple[bytes | None, dict[str, Any], str | None]:
    """(image bytes or None, {"instances", "width", "height"}, model field) of a JSON or multipart body."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("application/json"):
        body = await read_json_object(request, limit * 4 // 3 + _JSON_SLACK,
                                      "{\"image\": <base64>, \"instances\": [...]}")
        data = _image_bytes(body.get("image"))
        model = body.get("model")
    else:
        data, fields = await read_upload(request, limit)
        try:
            body = {k: json.loads(fields[k]) for k in ("instances", "width", "height") if k in fields}
        except (ValueError, RecursionError):
            raise BadOptions("the instances / width / height fields must be JSON") from None
        model = fields.get("model")
    if "instances" not in body:
        raise BadOptions("a KIE request needs instances: [{\"box\": [x1, y1, x2, y2], \"text\": \"...\"}, ...]")
    check_instances(body["instances"])
    if model is not None and not isinstance(model, str):
        raise BadOptions("model must be a string")
    return data, {k: body[k] for k in ("instances", "width", "height") if k in body}, model


_KIE_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "required": ["instances"], "properties": {
        "image": {"type": "string", "description": "base64 image (optional for no-visual models)"},
        "instances": {"type": "array", "items": {"type": "object", "required": ["box", "text"], "properties": {
            "box": {"type": "array", "items": {"type": "number"}}, "text": {"type": "string"}}}},
        "width": {"type": "integer"}, "height": {"type": "integer"}, "model": {"type": "string"}}}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file", "instances"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "instances": {"type": "string", "description": "the instances JSON list"}}}}}}}


@router.post("/kie", response_model=KieResponse, openapi_extra=_KIE_DOC,
             responses={c: {"model": ErrorResponse} for c in (400, 404, 413, 415, 422, 503, 504)})
async def kie(request: Request, state: State,
              model: Annotated[str | None, Query(description="KIE model (default: the zoo's)")] = None) -> dict:
    """Label the caller's boxes and texts with a KIE model; pairs link keys to values."""
    start = time.perf_counter()
    data, body, field_model = await read_kie_request(request, state.settings.max_upload_bytes)
    name = required_model(state, "kie", model or field_model)
    labelled = (await state.backend.kie(name, data, None, body)).to_json()
    instances = [{"box": item["box"], "text": item["text"], **label}
                 for item, label in zip(body["instances"], labelled["instances"])]
    timings = {"kie": round((time.perf_counter() - start) * 1000, 2)}
    state.metrics.observe_stages(timings)
    return {"model": name, "instances": instances, "pairs": labelled["pairs"], "timings_ms": timings}
