"""The HTTP answer of /ocr in a non-JSON format (the gateway side of `service.formats.render`)."""
from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import Response

from service.formats import render
from service.uploads import decode_upload

EXTENSIONS = {"text": "txt", "hocr": "hocr", "alto": "xml", "pdf": "pdf"}


async def formatted_response(fmt: str, response: dict[str, Any], data: bytes, max_pixels: int) -> Response:
    """Render off the event loop; `pdf` decodes the uploaded image again to lay it under the text."""
    images = [await asyncio.to_thread(decode_upload, data, max_pixels)] if fmt == "pdf" else []
    body, media_type = await asyncio.to_thread(render, fmt, response, images)
    disposition = f'inline; filename="ocr.{EXTENSIONS[fmt]}"'
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})
