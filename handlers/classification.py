"""Text-direction handler: crops -> {"label", "score", "rotate"} (one crop) or a list of them."""
from __future__ import annotations

from handlers.base import OcrHandler
from handlers.requests import Payload


def orientation_result(prediction) -> dict:
    """The public shape of one classified crop."""
    return {"label": prediction.label, "score": round(prediction.score, 5), "rotate": prediction.rotate}


class ClassificationHandler(OcrHandler):
    task = "cls"

    def infer(self, payloads: list[Payload]) -> list:
        crops = [image for payload in payloads for image in payload.images]
        predictions = iter(self.model(crops))
        results = []
        for payload in payloads:
            rows = [orientation_result(next(predictions)) for _ in payload.images]
            results.append(rows if payload.is_list else rows[0])
        return results
