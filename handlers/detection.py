"""Detection handler: one image per row -> {"boundary_result": [[x1, y1, ..., xn, yn, score], ...]}."""
from __future__ import annotations

import numpy as np

from handlers.api.det_options import DET_OPTION_BOUNDS, parse_det_options
from handlers.api.errors import BadOptions, BadRequest
from handlers.api.results import Detection, detections_json
from handlers.base import OcrHandler
from handlers.predictors.tesseract import OPTION_NAMES as TESSERACT_OPTIONS
from handlers.ops.vertex_order import clockwise_from_top_left
from handlers.requests import Payload


def options_parser(model):
    """The model's own option parser (Tesseract: lang, level), else the detector bounds of handlers/api."""
    return getattr(model, "parse_options", parse_det_options)


class DetectionHandler(OcrHandler):
    task = "det"
    option_names = frozenset(DET_OPTION_BOUNDS) | TESSERACT_OPTIONS

    def detect(self, image: np.ndarray, options: dict) -> list[Detection]:
        """Text regions of one decoded image at the precision the service answers with, every
        polygon clockwise from its top-left vertex (handlers/ops/vertex_order.py) whichever
        detector found it; bad options -> 422."""
        try:
            parsed = options_parser(self.model)(options)
        except ValueError as exc:
            raise BadOptions(str(exc)) from None
        return [Detection(clockwise_from_top_left(d.polygon), d.score).rounded() for d in self.model(image, parsed)]

    def infer(self, payloads: list[Payload]) -> list[dict]:
        results = []
        for payload in payloads:
            if payload.is_list:
                raise BadRequest("the detector takes one image per request")
            results.append(detections_json(self.detect(payload.images[0], payload.options)))
        return results
