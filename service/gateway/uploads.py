"""Reading request bodies with size limits: an uploaded image (raw body or multipart) or a JSON object."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from starlette.datastructures import UploadFile
from starlette.requests import Request

from handlers.ops.image_io import ImageError, ImageTooLargeError, decode_image
from service.gateway.errors import BadImage, BadOptions, OcrServeError, PayloadTooLarge, UnsupportedMediaType

RAW_TYPES = ("image/", "application/octet-stream", "application/pdf")


async def read_capped(request: Request, limit: int, what: str = "upload") -> bytes:
    """The whole body, refused with 413 as soon as its declared or streamed size passes `limit`."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"{what} of {int(declared)} bytes is over the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"{what} is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: Request, limit: int, shape: str) -> dict[str, Any]:
    """A JSON object body of at most `limit` bytes; `shape` shows the caller what to send instead."""
    raw = await read_capped(request, limit, "request body")
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadOptions("the JSON body is not valid JSON") from None
    except RecursionError:  # deeply nested arrays or objects: the parser's stack runs out
        raise BadOptions("the JSON body is nested too deeply") from None
    if not isinstance(body, dict):
        raise BadOptions(f"the JSON body must be an object {shape}")
    return body


async def read_upload(request: Request, limit: int) -> tuple[bytes, dict[str, str]]:
    """The image bytes and the non-file form fields (empty for a raw body)."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        body = await read_capped(request, limit + 64 * 1024)  # room for the multipart framing
        return await _from_multipart(request, body, limit)
    if content_type.startswith(RAW_TYPES):
        data = await read_capped(request, limit)
        if not data:
            raise BadImage("the request body is empty")
        return data, {}
    raise UnsupportedMediaType(f"unsupported content type {content_type or 'none'!r}: send multipart/form-data "
                               "with a 'file' part, or a raw body with Content-Type image/* or application/pdf")


async def _from_multipart(request: Request, body: bytes, limit: int) -> tuple[bytes, dict[str, str]]:
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    replayed = Request(request.scope, replay)
    try:
        form = await replayed.form(max_files=4, max_fields=64)
    except Exception as exc:  # noqa: BLE001 - starlette raises several types for malformed bodies
        raise BadImage(f"malformed multipart body: {exc}") from None
    try:  # closing the form removes the spooled temporary files, whatever happens
        files = [(k, v) for k, v in form.multi_items() if isinstance(v, UploadFile)]
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        if not files:
            raise BadImage("multipart upload carries no file: send the image in a part named 'file'")
        upload = next((v for k, v in files if k == "file"), files[0][1])
        data = await upload.read()
    finally:
        await form.close()
    if len(data) > limit:
        raise PayloadTooLarge(f"upload of {len(data)} bytes is over the limit of {limit} bytes")
    if not data:
        raise BadImage("the uploaded file is empty")
    return data, fields


@contextmanager
def image_errors(bad: type[OcrServeError] = BadImage, prefix: str = "") -> Iterator[None]:
    """The image decoder's errors as the gateway's: 413 for an image over the limits, `bad` for
    one that cannot be read (a truncated frame ends in EOFError); `prefix` names the page."""
    try:
        yield
    except ImageTooLargeError as exc:
        raise PayloadTooLarge(f"{prefix}{exc}") from None
    except (ImageError, EOFError) as exc:
        raise bad(f"{prefix}{exc}") from None


def decode_upload(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode uploaded bytes to BGR, translating image errors into the gateway's errors."""
    with image_errors():
        return decode_image(data, max_pixels)
