"""POST /ocr: end-to-end OCR of one uploaded image."""
from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handlers.api.det_options import DET_OPTION_BOUNDS
from service.gateway.directions import DEFAULT_BOTH_WAYS, BothWays
from service.gateway.errors import BadOptions
from service.gateway.document_pipeline import DEFAULT_DPI, DocumentOptions, ocr_document
from service.gateway.formats.response import formatted_response
from service.gateway.glued_words import GLUED_GAP
from service.gateway.kie_units import DEFAULT_KIE_UNIT, KieUnit
from service.gateway.model_choice import pick_model
from service.gateway.photo_route import request_route
from service.gateway.pipeline import OcrRequest
from service.gateway.schemas import ErrorResponse, OcrResponse
from service.gateway.state import State
from service.gateway.uploads import read_upload

router = APIRouter()
DET_OPTIONS = tuple(DET_OPTION_BOUNDS)


def _det_option(name: str):
    """A detector option's field, with the bounds the worker enforces (handlers/api/det_options.py)."""
    bound = DET_OPTION_BOUNDS[name]
    return Field(None, ge=bound.low, le=bound.high, description=bound.description)


class OcrOptions(BaseModel):
    """Options of /ocr, as query parameters or multipart form fields."""

    model_config = ConfigDict(extra="forbid")

    det: str | None = Field(None, description="detector name, or 'none' (whole image is one line); default: the "
                                               "zoo's default detector, or, when the zoo sets `photos`, its photo "
                                               "detector for a single image that is mostly not paper (`models.det` "
                                               "names the one that ran)")
    rec: str | None = Field(None, description="recogniser name, or 'none' (detection only)")
    cls: bool | None = Field(None, description="classify text direction (0/180) before reading")
    mask_thr: float | None = _det_option("mask_thr")
    min_text_score: float | None = _det_option("min_text_score")
    unclip_ratio: float | None = _det_option("unclip_ratio")
    limit_side_len: int | None = _det_option("limit_side_len")
    max_side_len: int | None = _det_option("max_side_len")
    rec_min_score: float | None = Field(None, ge=0, le=1, description="drop lines read with a lower text score "
                                                                       "(default: the recogniser's min_score in the zoo)")
    both_ways: BothWays = Field(
        DEFAULT_BOTH_WAYS, description="read doubtful crops turned 180 degrees too and keep the higher-scoring reading: "
                            "none, tall (crops turned 90 because they are tall: 90 or 270), unsure (tall ones plus "
                            "those the direction classifier scores below 0.9; all crops without cls)")
    word_gap: float = Field(0.0, ge=0, le=20, description="also cut a line's words where two neighbouring "
                                                          "characters lie this many median pitches apart (0: at "
                                                          "spaces only)")
    glued_gap: float = Field(GLUED_GAP, ge=0, le=20, description="also cut a word the recogniser ran together "
                             "(NEWYEAR) where its characters lie more than this many median pitches apart and an "
                             "English lexicon splits it there (0: never)")
    recut_below: float | None = Field(None, ge=0, le=1, description="read lines read with a lower score again from "
                                      "a crop 10 % tighter across the line; keep the surer text and the mean score "
                                      "(0: never; default: the recogniser's recut_below in the zoo)")
    kie: str | None = Field(None, description="KIE model labelling the read lines (e.g. sdmgr); off by default")
    kie_unit: KieUnit | None = Field(
        None, description="what kie labels: whole lines, segments of a line split at wide gaps between words, "
                          "or single words (labels then on each line's segments); default " + DEFAULT_KIE_UNIT)
    lang: str | None = Field(None, max_length=100,
                             description="Tesseract models only: installed language(s), e.g. eng or eng+deu")
    level: Literal["line", "word"] | None = Field(None, description="Tesseract detector only: line or word boxes")
    ner: str | None = Field(None, description="NER model tagging the read lines; off by default")
    dpi: float = Field(DEFAULT_DPI, ge=50, le=600, description="PDF rendering resolution (dots per inch)")
    pages: str | None = Field(None, max_length=200, description="pages to read, e.g. 1-3,7 or 5- (default all)")
    text_layer: Literal["ocr", "use", "auto"] = Field(
        "ocr", description="PDF pages: ocr (always OCR), use (the PDF's own text, no OCR), auto (per page)")
    orientation: Literal["auto", "none"] | None = Field(
        None, description="turn pages upright (0/90/180/270) before reading; default auto for PDFs and "
                          "multi-page TIFFs, none for single images. Boxes are in the turned page's pixels")
    format: Literal["json", "text", "hocr", "alto", "pdf"] = Field(
        "json", description="answer as JSON, plain text, hOCR, ALTO XML or a searchable PDF")


def build_request(state, options: OcrOptions) -> OcrRequest:
    """Resolve model names (defaults, 'none') and split detector options."""
    defaults = state.zoo.defaults
    use_cls = state.settings.text_direction_default if options.cls is None else options.cls
    det_options = {k: getattr(options, k) for k in DET_OPTIONS if getattr(options, k) is not None}
    rec = pick_model(state, "rec", options.rec, defaults.get("rec"))
    kie = pick_model(state, "kie", options.kie, None)
    if kie and not rec:
        raise BadOptions("kie labels the recognised text: it cannot run with rec=none")
    if options.kie_unit is not None and not kie:
        raise BadOptions("kie_unit applies with a KIE model (kie=<model>)")
    det = pick_model(state, "det", options.det, defaults.get("det"))
    photos = request_route(state.zoo.photos, options.det, options.rec, det, state.settings.ready_models)
    rec_lang = tesseract_lang(state, options.lang, det, rec, det_options)
    if options.level:
        if det is None or state.zoo.models[det].runtime != "tesseract":
            raise BadOptions("level applies to the Tesseract detector only (det=tesseract-det)")
        det_options["level"] = options.level
    return OcrRequest(
        det=det, rec=rec, cls=pick_model(state, "cls", None, defaults.get("cls")) if use_cls else None,
        photos=photos,
        det_options=det_options, min_text_score=state.zoo.rec_floor(rec, options.rec_min_score), kie=kie, rec_lang=rec_lang,
        kie_unit=options.kie_unit or DEFAULT_KIE_UNIT,
        ner=_ner_model(state, options.ner, rec),
        orient_cls=defaults.get("cls") if defaults.get("cls") in state.zoo.models else None,
        max_lines=state.settings.max_lines, max_rec_columns=state.settings.max_rec_columns,
        rec_columns_per_byte=state.settings.rec_columns_per_byte, both_ways=options.both_ways,
        word_gap=options.word_gap, glued_gap=options.glued_gap, recut_below=state.zoo.recut_bar(rec, options.recut_below))


def tesseract_lang(state, lang: str | None, det: str | None, rec: str | None, det_options: dict) -> str | None:
    """Route `lang` to the Tesseract models of the request (the handler checks it is installed)."""
    if lang is None:
        return None
    runs_tesseract = {name: state.zoo.models[name].runtime == "tesseract" for name in (det, rec) if name}
    if not any(runs_tesseract.values()):
        raise BadOptions("lang applies to Tesseract models only (det=tesseract-det or rec=tesseract-rec)")
    if runs_tesseract.get(det):
        det_options["lang"] = lang
    return lang if runs_tesseract.get(rec) else None


def _ner_model(state, requested: str | None, rec: str | None) -> str | None:
    ner = pick_model(state, "ner", requested, None)
    if ner and not rec:
        raise BadOptions("ner tags the recognised text: it cannot run with rec=none")
    return ner


def document_options(options: OcrOptions) -> DocumentOptions:
    """The document part of the options (pages, dpi, text layer, orientation)."""
    return DocumentOptions(dpi=options.dpi, pages=options.pages, text_layer=options.text_layer,
                           orientation=options.orientation)


Options = TypeVar("Options", bound=BaseModel)


def merge_form(query: Options, fields: dict[str, str]) -> Options:
    """The query options with a multipart form's option fields under them (the query wins),
    checked by the same model; 422 naming what is wrong."""
    if not fields:
        return query
    try:
        return type(query).model_validate({**fields, **query.model_dump(exclude_unset=True)})
    except ValidationError as exc:
        raise BadOptions(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


_UPLOAD_DOC = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}}}},
    "image/*": {"schema": {"type": "string", "format": "binary"}},
    "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}


# Fields a request did not compute (text with rec=none, labels and pairs without kie) are left
# out rather than sent as null, as the README's examples show.
@router.post("/ocr", response_model=OcrResponse, response_model_exclude_none=True, openapi_extra=_UPLOAD_DOC,
             responses={**{c: {"model": ErrorResponse} for c in (400, 404, 413, 415, 422, 503, 504)},
                        200: {"content": {t: {} for t in ("text/plain", "application/xhtml+xml", "application/xml",
                                                           "application/pdf")}}})
async def ocr(request: Request, state: State, query: Annotated[OcrOptions, Query()]) -> dict:
    """Detect and read the text of an image, a PDF or a multi-page TIFF (multipart `file`, or a raw
    image/* or application/pdf body); one entry of `pages` per page read."""
    data, fields = await read_upload(request, state.settings.max_upload_bytes)
    options = merge_form(query, fields)
    done = await ocr_document(data, request.headers.get("content-type", ""), document_options(options),
                              build_request(state, options), state.backend, state.settings)
    state.metrics.observe_stages(done.response["timings_ms"])
    if options.format != "json":
        return await formatted_response(options.format, done.response, done.images)
    return done.response
