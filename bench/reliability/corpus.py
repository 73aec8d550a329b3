"""A generated corpus of malformed requests for every route that takes a body (nothing committed).

Each case is one HTTP request; `cases(seed)` yields over a thousand, deterministic for a seed.
Images start from a real photo of ../shared/data (cropped small so bad cases stay cheap).
"""
from __future__ import annotations

import io
import json
import random
import struct
import zlib
from urllib.parse import quote
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

FORMATS = ("PNG", "JPEG", "TIFF", "WEBP", "GIF", "BMP")


@dataclass
class Case:
    """One request: method, path, query, headers and body (multipart `files`/`data` or raw `content`)."""

    name: str
    method: str = "POST"
    path: str = "/ocr"
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    content: bytes | None = None
    files: list | None = None
    data: dict | None = None
    admin: bool = False  # send the right admin key
    cost: bool = False  # a cost attack: valid but expensive; timed, not part of the quick sample


def encoded(image: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt)
    return buf.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header (CRCs right) declaring width x height, with one tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _png_chunk(b"IEND", b""))


def jpeg_claiming(jpeg: bytes, width: int, height: int) -> bytes:
    """A real JPEG whose SOF0 marker is patched to claim another size."""
    at = jpeg.find(b"\xff\xc0")
    patched = bytearray(jpeg)
    patched[at + 5:at + 9] = struct.pack(">HH", height, width)
    return bytes(patched)


def tiff_frames(count: int) -> bytes:
    frames = [Image.new("L", (2, 2), i % 256) for i in range(count)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def _flip_bits(data: bytes, rng: random.Random, flips: int) -> bytes:
    out = bytearray(data)
    for _ in range(flips):
        at = rng.randrange(len(out))
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


# Damaged images that still decode run the whole pipeline: a small detector input keeps each
# such case cheap; the decoders, the point of these cases, see the full file either way.
SMALL = {"limit_side_len": "32", "max_side_len": "320"}


def _upload(name: str, body: bytes, **kw) -> Case:
    kw.setdefault("params", dict(SMALL))
    return Case(name, files=[("file", ("x", body, "application/octet-stream"))], **kw)


def image_cases(sample: np.ndarray, rng: random.Random, per_format: int) -> Iterator[Case]:
    """Truncated and bit-flipped images of every served format, as multipart and raw bodies."""
    for fmt in FORMATS:
        good = encoded(sample, fmt)
        for i in range(per_format):
            cut = good[: rng.randrange(1, len(good))]
            yield _upload(f"{fmt} truncated {len(cut)}/{len(good)}", cut)
            yield Case(f"{fmt} bit flips raw #{i}", content=_flip_bits(good, rng, 1 + i % 8), params=dict(SMALL),
                       headers={"content-type": "image/" + fmt.lower()})
    yield _upload("PNG 100000x100000 header", png_claiming(100_000, 100_000))
    yield _upload("PNG 1x60000", png_claiming(1, 60_000))
    yield _upload("PNG 60000x1", png_claiming(60_000, 1))
    yield _upload("PNG 1x1", encoded(np.zeros((1, 1, 3), np.uint8), "PNG"))
    yield _upload("JPEG claiming 65535x65535", jpeg_claiming(encoded(sample, "JPEG"), 65_535, 65_535))
    yield _upload("TIFF 3000 frames", tiff_frames(3000))
    yield _upload("PNG + zip polyglot", encoded(sample, "PNG") + b"PK\x03\x04" + b"\x00" * 64)
    yield _upload("GIF/JS polyglot", b"GIF89a/*" + b"\x00" * 32 + b"*/=1;alert(1)")
    yield _upload("JPEG with PHP comment", b"\xff\xd8\xff\xfe\x00\x13<?php system(); ?>" + encoded(sample, "JPEG")[2:])
    yield _upload("HTML", b"<html><script>alert(1)</script></html>")


def cost_cases(sample: np.ndarray) -> Iterator[Case]:
    """Small files that decode to a lot of work: timed in the full run."""
    import cv2

    wide = np.zeros((6500, 6000, 4), np.uint16)
    wide[..., 3] = 65535
    ok, png16 = cv2.imencode(".png", wide, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    yield _upload(f"16-bit RGBA PNG 6000x6500 ({len(png16) // 1024} KB)", png16.tobytes(), cost=True, params={})
    yield _upload("JPEG header patched to 6300x6300", jpeg_claiming(encoded(sample[:8, :8], "JPEG"), 6300, 6300),
                  cost=True, params={})
    page = dashes_page()
    yield _upload(f"page of dashes ({len(page) // 1024} KB)", page, cost=True, params={})


def dashes_page() -> bytes:
    """A 15 KB PNG, 3000 x 2200, of short dashes in a grid: the detector sees ~70 page-high lines."""
    page = np.full((3000, 2200), 255, np.uint8)
    for y in range(40, 2960, 24):
        for x in range(40, 2160, 30):
            page[y:y + 3, x:x + 14] = 0
    return encoded(page, "PNG")


def envelope_cases(sample: np.ndarray) -> Iterator[Case]:
    """Bodies, content types and multipart framing that are wrong in themselves."""
    png = encoded(sample, "PNG")
    for path in ("/ocr", "/kie"):
        yield Case(f"{path} zero bytes", path=path, content=b"", headers={"content-type": "image/png"})
        yield Case(f"{path} one byte", path=path, content=b"\x89", headers={"content-type": "image/png"})
        yield Case(f"{path} no content type", path=path, content=png)
        yield Case(f"{path} text/plain", path=path, content=png, headers={"content-type": "text/plain"})
        yield Case(f"{path} json claiming image", path=path, content=b'{"a": 1}', headers={"content-type": "image/png"})
        yield Case(f"{path} multipart no boundary", path=path, content=b"--x\r\n\r\n",
                   headers={"content-type": "multipart/form-data"})
        yield Case(f"{path} multipart wrong boundary", path=path,
                   content=b"--a\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n" + png
                   + b"\r\n--a--\r\n", headers={"content-type": "multipart/form-data; boundary=b"})
        yield Case(f"{path} multipart 500 fields", path=path, files=[("file", ("x", png))],
                   data={f"f{i}": "v" for i in range(500)})
        yield Case(f"{path} multipart 50 files", path=path, files=[(f"file{i}", ("x", png)) for i in range(50)])
        yield Case(f"{path} huge form field", path=path, files=[("file", ("x", png))], data={"det": "d" * 2_000_000})
        yield Case(f"{path} JSON body", path=path, content=b"[" * 50_000, headers={"content-type": "application/json"})


NAMES = ["../../etc/passwd", "..%2f..%2fetc%2fpasswd", "file:///etc/passwd", "http://127.0.0.1:1/evil.mar",
         "https://example.com/m.mar", "dbnet\x00", "dbnet\r\nX-Injected: 1", "\x1b[31mred", "名前", "a" * 5000,
         "%00", "${jndi:ldap://127.0.0.1/a}", "dbnet.mar", "none", "NONE", "\ud800"]


def _safe(text: str) -> str:
    return text.encode("utf-8", "replace").decode()


def name_cases() -> Iterator[Case]:
    """Odd model names and option values in queries, form fields and admin paths."""
    png_field = ("x", b"\x89PNG\r\n\x1a\n")
    for name in NAMES:
        for option in ("det", "rec", "kie"):
            yield Case(f"/ocr ?{option}={name[:20]!r}", params={option: _safe(name)}, files=[("file", png_field)])
            yield Case(f"/ocr form {option}={name[:20]!r}", files=[("file", png_field)], data={option: _safe(name)})
        yield Case(f"/kie ?model={name[:20]!r}", path="/kie", params={"model": _safe(name)},
                   content=json.dumps({"instances": []}).encode(), headers={"content-type": "application/json"})
        quoted = quote(_safe(name), safe="")
        for method in ("POST", "PUT", "DELETE"):
            yield Case(f"{method} /models/{name[:20]!r}", method=method, path=f"/models/{quoted}", admin=True)
            yield Case(f"{method} /models/{name[:20]!r} no key", method=method, path=f"/models/{quoted}")
    for workers in ("-1", "0", "1000000000", "abc", "1e3", "NaN"):
        yield Case(f"PUT workers={workers}", method="PUT", path="/models/dbnet", params={"workers": workers},
                   admin=True)
    for value in ("-1", "nan", "inf", "1e309", "abc", "\x00", "99999999999999999999"):
        for option in ("mask_thr", "limit_side_len", "max_side_len", "unclip_ratio", "rec_min_score", "cls"):
            yield Case(f"/ocr {option}={value!r}", params={option: value}, files=[("file", png_field)])


def _kie(name: str, body: bytes | str) -> Case:
    content = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return Case(name, path="/kie", content=content, headers={"content-type": "application/json"})


def kie_cases(rng: random.Random) -> Iterator[Case]:
    """/kie bodies: nesting, huge arrays, odd numbers and texts, too many instances."""
    for depth in (100, 1000, 10_000, 100_000):
        yield _kie(f"kie nested {depth}", '{"instances": ' + "[" * depth + "]" * depth + "}")
        yield _kie(f"kie nested objects {depth}", '{"instances": [' + '{"a":' * depth + "1" + "}" * depth + "]}")
    for value in ("NaN", "Infinity", "-Infinity", "1e308", "-1e308", "1e309", "-5", "1e6", "12345678901234567890",
                  "true", "null", '"7"', "[]", "{}"):
        yield _kie(f"kie box value {value}", '{"instances": [{"box": [0, 0, %s, 10], "text": "a"}]}' % value)
    for text in ('"\\ud800"', '"\\udfff x"', '"' + "a" * 1_000_000 + '"', '"\\u0000\\u001b[2J"', "5", "null",
                 '"' + "\\ud83d\\ude00" * 200 + '"', '["a"]'):
        yield _kie(f"kie text {text[:16]}", '{"instances": [{"box": [0, 0, 10, 10], "text": %s}]}' % text)
    yield _kie("kie 100000-number box", json.dumps({"instances": [{"box": list(range(100_000)), "text": "a"}]}))
    for count in (301, 10_000):
        yield _kie(f"kie {count} instances", json.dumps({"instances": [{"box": [0, 0, 9, 9], "text": "a"}] * count}))
    for size in ('"width": -1, "height": 10', '"width": 1e9, "height": 1e9', '"width": "a", "height": []',
                 '"width": 99999999999999999999, "height": 1'):
        yield _kie(f"kie size {size}", '{"instances": [{"box": [0, 0, 9, 9], "text": "a"}], %s}' % size)
    for image in ('"!!!"', '"data:image/png;base64,AAAA"', "12", '"' + "A" * 4000 + '"'):
        yield _kie(f"kie image {image[:12]}", '{"image": %s, "instances": [{"box": [0,0,9,9], "text": "a"}]}' % image)
    for body in (b"", b"null", b"[]", b'"x"', b"{", b'{"instances": "x"}', b'{"instances": [1, "a", null]}',
                 b"\xff\xfe\x00", b'{"instances": [{}]}', b'{"instances": [{"box": [0,0,1,1]}]}'):
        yield _kie(f"kie body {body[:12]!r}", body)
    for i in range(40):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        yield _kie(f"kie random bytes #{i}", raw)


def random_cases(rng: random.Random, count: int) -> Iterator[Case]:
    """Random bytes under image content types (never decodable, never a 5xx)."""
    kinds = ("image/png", "image/jpeg", "image/tiff", "image/webp", "image/gif", "image/bmp", "application/octet-stream")
    for i in range(count):
        prefix = rng.choice([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"II*\x00", b"RIFF\x00\x00\x00\x00WEBP",
                             b"GIF89a", b"BM"])
        body = prefix + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 600)))
        yield Case(f"random #{i}", content=body, headers={"content-type": rng.choice(kinds)})


def cases(sample: np.ndarray, seed: int = 14, per_format: int = 40, random_count: int = 250) -> list[Case]:
    """The whole corpus (without the cost cases)."""
    rng = random.Random(seed)
    return [*image_cases(sample, rng, per_format), *envelope_cases(sample), *name_cases(), *kie_cases(rng),
            *random_cases(rng, random_count)]
