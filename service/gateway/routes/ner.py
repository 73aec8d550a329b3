"""POST /ner: named entities in the caller's texts."""
from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request

from service.gateway.errors import BadOptions, PayloadTooLarge
from service.gateway.model_choice import required_model
from service.gateway.schemas import ErrorResponse, NerResponse
from service.gateway.state import State
from service.gateway.uploads import read_json_object

router = APIRouter()
MAX_TEXTS = 256          # the handler's own limit too (handlers/predictors/bert_ner.py)
MAX_BODY = 1024 * 1024   # texts are short (MMOCR's model reads at most 126 characters each)

_NER_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["texts"], "properties": {
        "texts": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_TEXTS},
        "model": {"type": "string"}}}}}}}


def check_texts(texts: object) -> list[str]:
    """The texts of a request, or the 4xx that says what is wrong with them."""
    if not isinstance(texts, list):
        raise BadOptions("texts must be a list of strings: {\"texts\": [\"...\", ...]}")
    if len(texts) > MAX_TEXTS:
        raise PayloadTooLarge(f"{len(texts)} texts in one request, over the limit of {MAX_TEXTS}")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise BadOptions(f"texts[{bad}] is a {type(texts[bad]).__name__}, not a string")
    return texts


@router.post("/ner", response_model=NerResponse, openapi_extra=_NER_DOC,
             responses={c: {"model": ErrorResponse} for c in (400, 404, 413, 422, 503, 504)})
async def ner(request: Request, state: State,
              model: Annotated[str | None, Query(description="NER model")] = None) -> dict:
    """Find named entities (type, character span, text, score) in each text."""
    start = time.perf_counter()
    if not request.headers.get("content-type", "").lower().startswith("application/json"):
        raise BadOptions("send JSON: {\"texts\": [\"...\", ...]}")
    body = await read_json_object(request, MAX_BODY, "{\"texts\": [\"...\", ...]}")
    texts = check_texts(body.get("texts"))
    field_model = body.get("model")
    if field_model is not None and not isinstance(field_model, str):
        raise BadOptions("model must be a string")
    name = required_model(state, "ner", model or field_model)
    entities = await state.backend.ner(name, texts) if texts else []
    timings = {"ner": round((time.perf_counter() - start) * 1000, 2)}
    state.metrics.observe_stages(timings)
    return {"model": name, "results": [{"text": t, "entities": [x.to_json() for x in e]} for t, e in zip(texts, entities)],
            "timings_ms": timings}
