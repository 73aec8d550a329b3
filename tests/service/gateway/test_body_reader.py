"""The gateway's one capped body reader (service/gateway/uploads.py), used by every route that reads a body."""
from __future__ import annotations

import asyncio
import inspect
import io

import pytest
from PIL import Image
from starlette.requests import Request

from service.gateway.errors import BadDocument, BadImage, BadOptions, PayloadTooLarge
from service.gateway.routes import jobs, kie, ner, ocr, visualize
from service.gateway.uploads import decode_upload, image_errors, read_capped, read_json_object


def _request(chunks: list[bytes], headers: dict[str, str]) -> tuple[Request, list[int]]:
    """A Starlette request over an ASGI receive that counts how many body chunks were pulled."""
    pulled = []

    async def receive() -> dict:
        if len(pulled) == len(chunks):
            return {"type": "http.disconnect"}
        pulled.append(len(chunks[len(pulled)]))
        return {"type": "http.request", "body": chunks[len(pulled) - 1], "more_body": len(pulled) < len(chunks)}

    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    return Request(scope, receive), pulled


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    request, pulled = _request([b"x" * 600], {"content-length": "600"})
    with pytest.raises(PayloadTooLarge, match="upload of 600 bytes is over the limit of 500 bytes"):
        asyncio.run(read_capped(request, 500))
    assert pulled == []


def test_a_streamed_body_stops_at_the_first_chunk_past_the_limit():
    request, pulled = _request([b"x" * 300] * 5, {})  # chunked: no content-length to trust
    with pytest.raises(PayloadTooLarge, match="request body is over the limit of 500 bytes"):
        asyncio.run(read_capped(request, 500, "request body"))
    assert pulled == [300, 300]


def test_a_body_at_the_limit_is_read_whole():
    request, _ = _request([b"ab", b"cd"], {"content-length": "4"})
    assert asyncio.run(read_capped(request, 4)) == b"abcd"


@pytest.mark.parametrize("raw, message", [
    (b"{", "not valid JSON"), (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"[1]", "must be an object {\"texts\": [...]}"),
])
def test_json_object_reader_refuses_what_is_not_an_object(raw, message):
    request, _ = _request([raw], {"content-length": str(len(raw))})
    with pytest.raises(BadOptions, match=message.replace("[", r"\[").replace("{", r"\{")):
        asyncio.run(read_json_object(request, 1_000_000, "{\"texts\": [...]}"))


def test_every_body_reading_route_goes_through_the_one_reader():
    for module in (jobs, kie, ner, ocr, visualize):
        source = inspect.getsource(module)
        assert ".stream()" not in source and "await request.body()" not in source, module.__name__


def test_image_errors_map_once_for_uploads_and_document_pages():
    buf = io.BytesIO()
    Image.new("RGB", (300, 200)).save(buf, "PNG")
    png = buf.getvalue()
    with pytest.raises(PayloadTooLarge, match="over the limit of 0.0 megapixels"):
        decode_upload(png, 10_000)
    with pytest.raises(BadImage):
        decode_upload(png[: len(png) // 2] + b"not the rest", 10**7)
    with pytest.raises(BadDocument, match="^page 3: truncated"):
        with image_errors(BadDocument, "page 3: "):
            raise EOFError("truncated")
