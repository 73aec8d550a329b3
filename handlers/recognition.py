"""Recognition handler: crops -> {"text", "score"} (one crop) or a list of them (many crops).

All crops of all rows in a TorchServe batch are read together, so width bucketing works across
requests.  With the option `positions=true` each result also carries `chars`: [char, x0, x1, prob]
with x as a fraction of the crop width (from the CTC alignment) and `frame`, the width of one CTC
frame as a fraction of the crop width; the gateway turns them into word boxes.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from handlers.api.results import Recognition
from handlers.base import OcrHandler
from handlers.api.errors import BadOptions
from handlers.requests import Payload


def _wants_positions(payload: Payload) -> bool:
    return str(payload.options.get("positions", "")).lower() in ("1", "true", "yes")


class RecognitionHandler(OcrHandler):
    task = "rec"
    option_names = frozenset({"positions", "lang"})

    def recognize(self, groups: Sequence[tuple[Sequence[np.ndarray], str | None]]) -> list[Recognition]:
        """Read (crops, lang) groups in order, all in one call when no group names a language
        (Tesseract reads one call per language; other recognisers refuse `lang` with 422)."""
        if not any(len(crops) for crops, _ in groups):
            return []
        if not any(lang for _, lang in groups):
            reads = self.model([image for crops, _ in groups for image in crops])
        elif "lang" not in getattr(self.model, "option_names", ()):
            raise BadOptions("this recogniser takes no lang option (Tesseract models do)")
        else:
            reads = [read for crops, lang in groups for read in self.model(list(crops), lang=lang)]
        return [read.rounded() for read in reads]

    def infer(self, payloads: list[Payload]) -> list:
        reads = iter(self.recognize([(p.images, p.options.get("lang")) for p in payloads]))
        results = []
        for payload in payloads:
            positions = _wants_positions(payload)
            rows = [next(reads).to_json(positions) for _ in payload.images]
            results.append(rows if payload.is_list else rows[0])
        return results
