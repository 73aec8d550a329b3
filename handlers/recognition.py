"""Recognition handler: crops -> {"text", "score"} (one crop) or a list of them (many crops).

All crops of all rows in a TorchServe batch are read together, so width bucketing works across
requests.  With the option `positions=true` each result also carries `chars`: [char, x0, x1, prob]
with x as a fraction of the crop width (from the CTC alignment) and `frame`, the width of one CTC
frame as a fraction of the crop width; the gateway turns them into word boxes.
"""
from __future__ import annotations

from handlers.base import OcrHandler
from handlers.api.errors import BadOptions
from handlers.requests import Payload


def _wants_positions(payload: Payload) -> bool:
    return str(payload.options.get("positions", "")).lower() in ("1", "true", "yes")


def recognition_result(rec, positions: bool) -> dict:
    """The public shape of one read crop."""
    result = {"text": rec.text, "score": round(rec.score, 5)}
    if positions:
        result["chars"] = [[c, round(x0, 4), round(x1, 4), round(p, 4)] for c, x0, x1, p in rec.chars]
        result["frame"] = round(rec.frame, 5)
    return result


class RecognitionHandler(OcrHandler):
    task = "rec"
    option_names = frozenset({"positions", "lang"})

    def infer(self, payloads: list[Payload]) -> list:
        reads = iter(self._read(payloads))
        results = []
        for payload in payloads:
            positions = _wants_positions(payload)
            rows = [recognition_result(next(reads), positions) for _ in payload.images]
            results.append(rows if payload.is_list else rows[0])
        return results

    def _read(self, payloads: list[Payload]) -> list:
        """All crops of the batch in one call; with `lang` (Tesseract) one call per language."""
        langs = [payload.options.get("lang") for payload in payloads]
        if not any(langs):
            return self.model([image for payload in payloads for image in payload.images])
        return read_with_lang(self.model, [(p.images, lang) for p, lang in zip(payloads, langs)])


def read_with_lang(model, groups: list) -> list:
    """Read (crops, lang) groups in order; 422 if the model has no languages (only Tesseract does)."""
    if "lang" not in getattr(model, "option_names", ()):
        raise BadOptions("this recogniser takes no lang option (Tesseract models do)")
    return [read for crops, lang in groups for read in model(crops, lang=lang)]
