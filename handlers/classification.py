"""Text-direction handler: crops -> {"label", "score", "rotate"} (one crop) or a list of them."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from handlers.api.results import Orientation
from handlers.base import OcrHandler
from handlers.requests import Payload


class ClassificationHandler(OcrHandler):
    task = "cls"

    def classify(self, crops: Sequence[np.ndarray]) -> list[Orientation]:
        return [p.rounded() for p in self.model(list(crops))] if len(crops) else []

    def infer(self, payloads: list[Payload]) -> list:
        predictions = iter(self.classify([image for payload in payloads for image in payload.images]))
        results = []
        for payload in payloads:
            rows = [next(predictions).to_json() for _ in payload.images]
            results.append(rows if payload.is_list else rows[0])
        return results
