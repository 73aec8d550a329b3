"""POST /visualize: run /ocr on an image and answer a PNG with the result drawn over it."""
from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field, ValidationError

from service.errors import BadOptions
from service.pipeline import run_ocr
from service.routes.ocr import _UPLOAD_DOC, OcrOptions, _describe, build_request
from service.schemas import ErrorResponse
from service.state import State
from service.uploads import decode_upload, read_upload
from service.visualize import VisOptions, render_png

router = APIRouter()


class VisualizeOptions(OcrOptions):
    """The options of /ocr plus what to draw."""

    text: Literal["none", "side", "over"] = Field(
        "side", description="recognised text: on a white page beside the image (side), above each box (over), or none")
    words: bool = Field(True, description="draw the word boxes inside each line")
    pairs: bool = Field(True, description="draw KIE key -> value arrows (with ?kie=<model>)")


def _merge_form(query: VisualizeOptions, fields: dict[str, str]) -> VisualizeOptions:
    if not fields:
        return query
    try:
        return VisualizeOptions.model_validate({**fields, **query.model_dump(exclude_unset=True)})
    except ValidationError as exc:
        raise BadOptions(_describe(exc)) from None


_PNG = {200: {"content": {"image/png": {}}, "description": "the image with the result drawn over it"}}


@router.post("/visualize", response_class=Response, openapi_extra=_UPLOAD_DOC,
             responses={**_PNG, **{c: {"model": ErrorResponse} for c in (400, 404, 413, 415, 422, 503, 504)}})
async def visualize(request: Request, state: State, query: Annotated[VisualizeOptions, Query()]) -> Response:
    """OCR an image (as /ocr does) and return it as a PNG with lines, words, KIE labels and text drawn."""
    data, fields = await read_upload(request, state.settings.max_upload_bytes)
    options = _merge_form(query, fields)
    result = await run_ocr(state.backend, data, build_request(state, options), state.settings.max_pixels)
    state.metrics.observe_stages(result["timings_ms"])
    image = await asyncio.to_thread(decode_upload, data, state.settings.max_pixels)
    drawing = VisOptions(words=options.words, text=options.text, pairs=options.pairs)
    png = await asyncio.to_thread(render_png, image, result["pages"][0], drawing)
    return Response(png, media_type="image/png")
