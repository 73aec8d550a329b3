"""The HTTP answer of /ocr in a non-JSON format (the gateway side of `service.gateway.formats.render`)."""
from __future__ import annotations

import asyncio
from typing import Any, Sequence

from starlette.responses import Response

from service.gateway.formats import render

EXTENSIONS = {"text": "txt", "hocr": "hocr", "alto": "xml", "pdf": "pdf"}


async def formatted_response(fmt: str, response: dict[str, Any], images: Sequence[Any]) -> Response:
    """Render off the event loop; `images` are the pages as read (as turned), laid under a PDF's text.
    PDF input keeps its page size: its pages carry the dpi they were rendered at."""
    dpi = (response.get("document") or {}).get("dpi")
    if dpi:
        response = {**response, "pages": [{"dpi": dpi, **page} for page in response["pages"]]}
    body, media_type = await asyncio.to_thread(render, fmt, response, images if fmt == "pdf" else [])
    disposition = f'inline; filename="ocr.{EXTENSIONS[fmt]}"'
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})
