"""NER handler: texts in, entities out.

Row forms: a JSON body {"texts": ["...", ...]} (or {"text": "..."}), or a raw UTF-8 text body
(one text). Each row answers {"entities": [[entity, ...] per text]}, an entity being
{"type", "start", "end" (exclusive character offsets), "text", "score"}.
"""
from __future__ import annotations

import json
from typing import Any

from handlers.api.results import Entity, entities_json
from handlers.base import OcrHandler
from handlers.api.errors import BadOptions, BadRequest, PayloadTooLarge
from handlers.families.ner.convertor import NerTextError


def _body(row: dict[str, Any]) -> Any:
    body = row.get("body", row.get("data"))
    if isinstance(body, (bytes, bytearray)):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the text body is not valid UTF-8") from None
        if text[:1] in ("{", "["):
            try:
                return json.loads(text)
            except ValueError:
                raise BadRequest("the JSON body is not valid JSON") from None
        return {"texts": [text]}
    return body


def _check_count(texts: list, max_texts: int) -> None:
    if len(texts) > max_texts:
        raise PayloadTooLarge(f"{len(texts)} texts in one request, over the limit of {max_texts}")


def parse_texts(row: dict[str, Any], max_texts: int) -> list[str]:
    """The texts of one row; BadRequest (400) / PayloadTooLarge (413) naming what is wrong."""
    body = _body(row)
    if isinstance(body, dict) and isinstance(body.get("text"), str) and "texts" not in body:
        body = {"texts": [body["text"]]}
    texts = body.get("texts") if isinstance(body, dict) else body
    if not isinstance(texts, list):
        raise BadRequest("an NER request is {\"texts\": [\"...\", ...]} (or a text body)")
    _check_count(texts, max_texts)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise BadRequest(f"text {bad} is a {type(texts[bad]).__name__}, not a string")
    return texts


class NERHandler(OcrHandler):
    task = "ner"

    def parse(self, row: dict) -> list[str]:
        """Rows carry texts, not images: checked here, so too-long texts fail their own row before batching."""
        texts = parse_texts(row, self.model.cfg.max_texts)
        self.check(texts)
        return texts

    def check(self, texts: list[str]) -> None:
        """413 over the per-request text count, 422 for a text the model cannot encode (too long)."""
        _check_count(texts, self.model.cfg.max_texts)
        try:
            self.model.encode(texts)
        except NerTextError as exc:
            raise BadOptions(str(exc)) from None

    def tag(self, texts: list[str]) -> list[list[Entity]]:
        """Entities of every text, in order (checked first, then one forward pass)."""
        self.check(texts)
        return [[e.rounded() for e in found] for found in self.model(texts)] if texts else []

    def infer(self, rows: list[list[str]]) -> list[dict]:
        """All texts of all rows in one forward pass, split back per row."""
        entities = iter(self.model([text for texts in rows for text in texts]))
        return [entities_json([[e.rounded() for e in next(entities)] for _ in texts]) for texts in rows]
