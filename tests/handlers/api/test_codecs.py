"""The one base64 decoder (handlers/api/codecs.py), as the worker's request reader uses it."""
from __future__ import annotations

import base64

import pytest

from handlers.api.codecs import decode_base64
from handlers.api.errors import BadImage
from handlers.requests import parse_row
from tests.conftest import data_path

# bytes whose standard encoding holds both '+' and '/', so the two alphabets differ
RAW = bytes(range(256)) * 3


@pytest.mark.parametrize("encode", [
    lambda b: base64.b64encode(b).decode(),
    lambda b: base64.urlsafe_b64encode(b).decode(),
    lambda b: base64.urlsafe_b64encode(b).decode().rstrip("="),
    lambda b: "\n".join(base64.encodebytes(b).decode().split()),  # MIME line breaks
    lambda b: "data:application/octet-stream;base64," + base64.b64encode(b).decode(),
])
def test_standard_and_url_safe_forms_decode_to_the_same_bytes(encode):
    assert decode_base64(encode(RAW)) == RAW


@pytest.mark.parametrize("garbage, words", [
    ("@@not base64@@", "not valid base64"),
    ("abcde", "not valid base64"),  # 5 characters: 30 bits, not a whole number of bytes
    ("data:image/png,xyz", "data url"),
    (b"aGVsbG8=", "must be a base64 string"),
])
def test_garbage_is_a_400_naming_the_problem(garbage, words):
    with pytest.raises(BadImage) as caught:
        decode_base64(garbage)
    assert caught.value.status == 400 and words in caught.value.message.lower()


def test_the_worker_reads_a_url_safe_image_like_a_standard_one():
    image = data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()
    standard = parse_row({"body": {"image": base64.b64encode(image).decode()}}, 40_000_000, frozenset())
    urlsafe = parse_row({"body": {"image": base64.urlsafe_b64encode(image).decode().rstrip("=")}},
                        40_000_000, frozenset())
    assert (standard.images[0] == urlsafe.images[0]).all()
    with pytest.raises(BadImage) as caught:  # the worker's own error type, not a generic one
        parse_row({"body": {"image": "%%%"}}, 40_000_000, frozenset())
    assert caught.value.to_json()["error"] == "BadImage" and "base64" in caught.value.message
