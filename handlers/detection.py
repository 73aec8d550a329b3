"""Detection handler: one image per row -> {"boundary_result": [[x1, y1, ..., xn, yn, score], ...]}."""
from __future__ import annotations

from handlers.base import OcrHandler
from handlers.api.errors import BadOptions, BadRequest
from handlers.api.det_options import DET_OPTION_BOUNDS, parse_det_options
from handlers.families.tesseract import OPTION_NAMES as TESSERACT_OPTIONS
from handlers.ops.vertex_order import clockwise_from_top_left
from handlers.requests import Payload


def options_parser(model):
    """The model's own option parser (Tesseract: lang, level), else the detector bounds of handlers/api."""
    return getattr(model, "parse_options", parse_det_options)


def boundary_result(detections) -> dict:
    """MMOCR's detection response shape, coordinates rounded to 0.1 px, every polygon clockwise
    from its top-left vertex (handlers/ops/vertex_order.py) whichever detector found it."""
    rows = []
    for det in detections:
        flat = [round(float(v), 1) for v in clockwise_from_top_left(det.polygon).reshape(-1)]
        rows.append(flat + [round(det.score, 5)])
    return {"boundary_result": rows}


class DetectionHandler(OcrHandler):
    task = "det"
    option_names = frozenset(DET_OPTION_BOUNDS) | TESSERACT_OPTIONS

    def infer(self, payloads: list[Payload]) -> list[dict]:
        results = []
        for payload in payloads:
            if payload.is_list:
                raise BadRequest("the detector takes one image per request")
            try:
                options = options_parser(self.model)(payload.options)
            except ValueError as exc:
                raise BadOptions(str(exc)) from None
            results.append(boundary_result(self.model(payload.images[0], options)))
        return results
