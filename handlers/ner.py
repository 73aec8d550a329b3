"""NER handler: texts in, entities out.

Row forms: a JSON body {"texts": ["...", ...]} (or {"text": "..."}), or a raw UTF-8 text body
(one text). Each row answers {"entities": [[entity, ...] per text]}, an entity being
{"type", "start", "end" (exclusive character offsets), "text", "score"}.
"""
from __future__ import annotations

import json
from typing import Any

from handlers.base import OcrHandler
from handlers.api.errors import BadOptions, BadRequest, PayloadTooLarge, as_error
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


def parse_texts(row: dict[str, Any], max_texts: int) -> list[str]:
    """The texts of one row; BadRequest (400) / PayloadTooLarge (413) naming what is wrong."""
    body = _body(row)
    if isinstance(body, dict) and isinstance(body.get("text"), str) and "texts" not in body:
        body = {"texts": [body["text"]]}
    texts = body.get("texts") if isinstance(body, dict) else body
    if not isinstance(texts, list):
        raise BadRequest("an NER request is {\"texts\": [\"...\", ...]} (or a text body)")
    if len(texts) > max_texts:
        raise PayloadTooLarge(f"{len(texts)} texts in one request, over the limit of {max_texts}")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise BadRequest(f"text {bad} is a {type(texts[bad]).__name__}, not a string")
    return texts


class NERHandler(OcrHandler):
    task = "ner"

    def run_rows(self, rows: list[dict]) -> list[Any]:
        """Rows carry texts, not images: parsed and checked here, inferred by the base class."""
        results: list[Any] = [None] * len(rows)
        parsed = []
        for idx, row in enumerate(rows):
            try:
                texts = parse_texts(row or {}, self.model.cfg.max_texts)
                self.model.encode(texts)  # too-long texts fail their own row, before batching
                parsed.append((idx, texts))
            except NerTextError as exc:
                results[idx] = BadOptions(str(exc))
            except Exception as exc:  # noqa: BLE001 - every failure becomes this row's error
                results[idx] = as_error(exc)
        for idx, result in self._infer_isolated(parsed):
            results[idx] = result
        return results

    def infer(self, rows: list[list[str]]) -> list[dict]:
        """All texts of all rows in one forward pass, split back per row."""
        flat = [text for texts in rows for text in texts]
        entities = self.model(flat)
        out, start = [], 0
        for texts in rows:
            out.append({"entities": [[e.to_json() for e in found]
                                     for found in entities[start:start + len(texts)]]})
            start += len(texts)
        return out
