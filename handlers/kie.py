"""KIE handler: an image (optional for no-visual models) plus text boxes -> a label per box and
key -> value pairs.

Row forms: a JSON body {"image": <base64>, "instances": [{"box": [...], "text": "..."}, ...],
"width": W, "height": H} (width/height only matter without an image), or multipart with an image
part (`image`, `file` or `body`) and an `instances` part holding the JSON list.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from handlers.base import OcrHandler
from handlers.api.errors import BadImage, BadRequest, PayloadTooLarge
from handlers.api.results import KIEResult
from handlers.predictors.sdmgr import KIEDocument
from handlers.ops.image_io import decode_image, image_from_base64

_IMAGE_KEYS = ("image", "file", "body", "data")
# Beyond these a row costs far more than its bytes (a box at 1e308 overflows the geometry, a
# million-character text the embedding); the gateway checks the same limits (service/gateway/kie_input.py).
MAX_COORDINATE = 1e6
MAX_TEXT_CHARS = 1000


def _box(raw: Any, index: int) -> list[float]:
    """x1, y1, x2, y2 of a 4-number box or of the bounding box of a polygon (>= 3 points)."""
    ok = isinstance(raw, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)
    if not ok or not (len(raw) == 4 or (len(raw) >= 6 and len(raw) % 2 == 0)):
        got = f"{len(raw)} numbers" if isinstance(raw, list) else type(raw).__name__
        raise BadRequest(f"instance {index}: box must be 4 numbers [x1, y1, x2, y2] or a polygon "
                                f"[x1, y1, ..., xn, yn] of at least 3 points, got {got}")
    if not all(math.isfinite(v) and abs(v) <= MAX_COORDINATE for v in raw):
        raise BadRequest(f"instance {index}: box holds a non-finite number or one beyond "
                                f"±{MAX_COORDINATE:g} pixels")
    xs, ys = raw[0::2], raw[1::2]
    return [min(xs), min(ys), max(xs), max(ys)]


def parse_instances(items: Any, max_instances: int) -> tuple[np.ndarray, list[str]]:
    """(boxes (N, 4) float32, texts) of an `instances` list; BadRequest naming the bad entry."""
    if not isinstance(items, list):
        raise BadRequest("instances must be a list of {\"box\": [...], \"text\": \"...\"}")
    if len(items) > max_instances:
        raise PayloadTooLarge(f"{len(items)} instances in one document, over the limit of {max_instances} "
                                "(SDMG-R compares every pair of boxes)")
    boxes, texts = [], []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "box" not in item:
            raise BadRequest(f"instance {index} has no box")
        if not isinstance(item.get("text"), str):
            raise BadRequest(f"instance {index} has no text (a string)")
        if len(item["text"]) > MAX_TEXT_CHARS:
            raise PayloadTooLarge(f"instance {index}: text of {len(item['text'])} characters, over the "
                                    f"limit of {MAX_TEXT_CHARS}")
        boxes.append(_box(item["box"], index))
        texts.append(item["text"])
    return np.asarray(boxes, np.float32).reshape(-1, 4), texts


def _size(body: dict) -> tuple[int, int] | None:
    width, height = body.get("width"), body.get("height")
    if width is None and height is None:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (width, height)):
        raise BadRequest("width and height must both be positive integers")
    return height, width


def document(image: np.ndarray | None, body: dict, max_instances: int, needs_image: bool) -> KIEDocument:
    """A KIE document from a decoded image (or None) and the JSON fields of the request."""
    if needs_image and image is None:
        raise BadRequest("this KIE model reads the image: send it with the instances")
    boxes, texts = parse_instances(body.get("instances"), max_instances)
    return KIEDocument(image, boxes, texts, _size(body))


def _json_part(value: Any, name: str) -> Any:
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise BadRequest(f"the {name} part is not valid JSON") from None
    return value


def parse_kie_row(row: dict[str, Any], max_pixels: int, max_instances: int, needs_image: bool) -> KIEDocument:
    """One TorchServe row (JSON body or multipart parts) -> a KIE document."""
    body = row.get("body", row.get("data"))
    if isinstance(body, (bytes, bytearray)) and bytes(body[:1]) == b"{" and "instances" not in row:
        body = _json_part(body, "body")
    if isinstance(body, dict):
        image = body.get("image")
        if image is not None and not isinstance(image, str):
            raise BadImage("image must be a base64 string")
        decoded = image_from_base64(image, max_pixels) if image else None
        return document(decoded, body, max_instances, needs_image)
    if "instances" not in row:
        raise BadRequest("a KIE request needs instances: a JSON body {\"image\": <base64>, "
                                "\"instances\": [...]} or multipart with an 'instances' part")
    fields = {k: _json_part(row[k], k) for k in ("instances", "width", "height") if k in row}
    part = next((row[k] for k in _IMAGE_KEYS if isinstance(row.get(k), (bytes, bytearray))), None)
    decoded = decode_image(bytes(part), max_pixels) if part else None
    return document(decoded, fields, max_instances, needs_image)


class KIEHandler(OcrHandler):
    task = "kie"

    def parse(self, row: dict) -> KIEDocument:
        """Rows carry boxes and texts, not just images."""
        cfg = self.model.cfg
        return parse_kie_row(row, self.max_pixels, cfg.max_instances, cfg.visual)

    def document(self, image: np.ndarray | None, body: dict) -> KIEDocument:
        """A document from a decoded image (or None) and the JSON fields (`instances`, `width`, `height`)."""
        return document(image, body, self.model.cfg.max_instances, self.model.cfg.visual)

    def label(self, documents: list[KIEDocument]) -> list[KIEResult]:
        return [result.rounded() for result in self.model(documents)]

    def infer(self, documents: list[KIEDocument]) -> list[dict]:
        return [result.to_json() for result in self.label(documents)]
