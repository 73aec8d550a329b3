"""POST /visualize: run /ocr on one page (an image, or page N of a PDF / multi-page TIFF) and answer a PNG
with the result drawn over it; `draw=false` answers the page's image alone, without OCR."""
from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field

from handlers.ops.image_io import encode_png
from service.gateway.document_pipeline import ocr_document
from service.gateway.documents import open_document
from service.gateway.errors import BadOptions
from service.gateway.routes.ocr import _UPLOAD_DOC, OcrOptions, build_request, document_options, merge_form
from service.gateway.schemas import ErrorResponse
from service.gateway.state import State
from service.gateway.uploads import read_upload
from service.gateway.visualize import VisOptions, render_png

router = APIRouter()


class VisualizeOptions(OcrOptions):
    """The options of /ocr plus what to draw."""

    text: Literal["none", "side", "over"] = Field(
        "side", description="recognised text: on a white page beside the image (side), above each box (over), or none")
    words: bool = Field(True, description="draw the word boxes inside each line")
    pairs: bool = Field(True, description="draw KIE key -> value arrows (with ?kie=<model>)")
    page: int = Field(1, ge=1, description="the page of a PDF or multi-page TIFF to draw (1-based)")
    draw: bool = Field(True, description="false: answer the page's image alone (PDFs rendered at dpi=), no OCR; "
                                         "/ocr's `rotation` of that page says how to turn it to its boxes")


_PNG = {200: {"content": {"image/png": {}}, "description": "the image with the result drawn over it"}}


@router.post("/visualize", response_class=Response, openapi_extra=_UPLOAD_DOC,
             responses={**_PNG, **{c: {"model": ErrorResponse} for c in (400, 404, 413, 415, 422, 503, 504)}})
async def visualize(request: Request, state: State, query: Annotated[VisualizeOptions, Query()]) -> Response:
    """OCR one page (as /ocr does) and return it as a PNG with lines, words, KIE labels and text drawn;
    `page=N` picks the page of a PDF or multi-page TIFF, `draw=false` returns the page without OCR."""
    data, fields = await read_upload(request, state.settings.max_upload_bytes)
    options = merge_form(query, fields)
    if options.pages is not None:
        raise BadOptions("/visualize draws one page: choose it with page=N (1-based), not pages=")
    content_type = request.headers.get("content-type", "")
    if not options.draw:
        image = await asyncio.to_thread(page_image, data, content_type, options.page, options.dpi,
                                        state.settings.max_pixels)
        return Response(await asyncio.to_thread(encode_png, image), media_type="image/png")
    ocr_request = build_request(state, options)
    await asyncio.to_thread(page_image, data, content_type, options.page, options.dpi, state.settings.max_pixels,
                            render=False)
    chosen = options.model_copy(update={"pages": str(options.page)})
    done = await ocr_document(data, content_type, document_options(chosen), ocr_request, state.backend,
                              state.settings)
    state.metrics.observe_stages(done.response["timings_ms"])
    drawing = VisOptions(words=options.words, text=options.text, pairs=options.pairs)
    png = await asyncio.to_thread(render_png, done.images[0], done.response["pages"][0], drawing)
    return Response(png, media_type="image/png")


def page_image(data: bytes, content_type: str, number: int, dpi: float, max_pixels: int, render: bool = True):
    """Page `number` (1-based) of an upload as BGR pixels (None with render=False: only the range is checked);
    422 naming the page count when the document has no such page."""
    doc = open_document(data, content_type, max_pixels)
    try:
        if number > doc.count:
            raise BadOptions(f"page {number} is out of range: the document has {doc.count} page(s)")
        return doc.page(number, dpi).image if render else None
    finally:
        doc.close()
