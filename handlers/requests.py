"""Reading one TorchServe request row: image payloads and options, whatever the encoding.

A row is a dict built by TorchServe: a raw body arrives as {"body": bytes}; a JSON body as
{"body": <parsed JSON>}; multipart/form-data as one key per part; query parameters as keys too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from handlers.api.errors import BadImage, BadOptions, BadRequest, PayloadTooLarge
from handlers.ops.image_io import decode_image, image_from_base64

_BODY_KEYS = ("body", "data", "file", "image")
MAX_IMAGES_PER_REQUEST = 1024


@dataclass
class Payload:
    """The decoded images of one row, whether the client sent a list, and its options."""

    images: list[np.ndarray]
    is_list: bool
    options: dict[str, Any] = field(default_factory=dict)


def _text(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)) and len(value) <= 256:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value


def _from_json(body: Any, max_pixels: int) -> Payload:
    if isinstance(body, list):
        items, is_list, options = body, True, {}
    elif isinstance(body, dict) and isinstance(body.get("images"), list):
        items, is_list, options = body["images"], True, body.get("options") or {}
    elif isinstance(body, dict) and isinstance(body.get("image"), str):
        items, is_list, options = [body["image"]], False, body.get("options") or {}
    else:
        raise BadRequest("JSON body must be {\"image\": <base64>}, {\"images\": [<base64>, ...]} "
                                "or a list of base64 strings")
    if not isinstance(options, dict):
        raise BadOptions("options must be a JSON object")
    if len(items) > MAX_IMAGES_PER_REQUEST:
        raise PayloadTooLarge(f"{len(items)} images in one request, over the limit of {MAX_IMAGES_PER_REQUEST}")
    if not all(isinstance(item, str) for item in items):
        raise BadImage("every image in a JSON body must be a base64 string")
    return Payload([image_from_base64(item, max_pixels) for item in items], is_list, options)


def parse_row(row: dict[str, Any], max_pixels: int, option_names: frozenset[str]) -> Payload:
    """Decode the images of one row and collect the options it names."""
    options = {k: _text(v) for k, v in row.items() if k in option_names}
    parts = [(k, v) for k, v in row.items() if k not in option_names]
    body = next((v for k, v in parts if k in _BODY_KEYS), None)
    if isinstance(body, (dict, list)):
        payload = _from_json(body, max_pixels)
        payload.options = {**payload.options, **options}
        return payload
    binary = [v for _, v in parts if isinstance(v, (bytes, bytearray))]
    if not binary:
        raise BadRequest("the request carries no image (send the image as the body or as a form part)")
    if len(binary) > MAX_IMAGES_PER_REQUEST:
        raise PayloadTooLarge(f"{len(binary)} images in one request, over the limit of {MAX_IMAGES_PER_REQUEST}")
    images = [decode_image(bytes(v), max_pixels) for v in binary]
    return Payload(images, len(binary) > 1, options)
