"""Tests for handlers.ops.image_io: every input is generated in memory with Pillow/numpy."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps

from handlers.ops import image_io
from handlers.ops.image_io import (
    ImageDecodeError,
    ImageError,
    ImageInfo,
    ImageTooLargeError,
    decode_image,
    encode_png,
    image_from_base64,
    probe_image,
)

TESSERACT_TESTING = Path("/work/shared/data/tesseract/testing")
RED_BGR = (0, 0, 255)


def save(im: Image.Image, fmt: str, **kw) -> bytes:
    """Encode a Pillow image to bytes."""
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    crc = struct.pack(">I", zlib.crc32(kind + payload))
    return struct.pack(">I", len(payload)) + kind + payload + crc


def raw_png(
    width: int, height: int, row: bytes | None, bit_depth: int = 8, color_type: int = 0
) -> bytes:
    """A PNG whose every row is `row` (streamed through zlib, so huge images stay cheap).

    With row=None the pixel data is left empty: a header-only file.
    """
    packer = zlib.compressobj(9)
    rows = [] if row is None else (packer.compress(b"\x00" + row) for _ in range(height))
    idat = b"".join(rows) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    chunks = png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def gradient(height: int = 64, width: int = 96) -> np.ndarray:
    """A smooth RGB test picture with a few dark 'text' lines."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.dstack([x * 255 // width, y * 255 // height, (x + y) * 2 % 256]).astype(np.uint8)
    rgb[8::16] = 0
    return rgb


def marked(width: int = 40, height: int = 20) -> Image.Image:
    """White image with a red block in the top-left corner."""
    im = Image.new("RGB", (width, height), "white")
    im.paste((255, 0, 0), (0, 0, 8, 8))
    return im


def exif_with_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def pillow_reference(data: bytes) -> np.ndarray:
    """What Pillow alone shows: first frame, EXIF-transposed, as BGR."""
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    return np.asarray(im.convert("RGB"))[:, :, ::-1]


def assert_bgr(image: np.ndarray, shape: tuple[int, int]) -> None:
    assert image.dtype == np.uint8 and image.shape == (*shape, 3)
    assert image.flags.c_contiguous and image.flags.writeable


@pytest.fixture
def pillow_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the Pillow decoder path, to compare it with the OpenCV one."""
    monkeypatch.setattr(image_io, "_use_opencv", lambda im: False)


# --- rejection -----------------------------------------------------------------------


def test_text_bytes_are_not_an_image():
    for fn in (probe_image, decode_image):
        with pytest.raises(ImageDecodeError, match="not a supported image format") as err:
            fn(b"hello")
        assert "got 5 bytes starting with b'hello'" in str(err.value)


def test_empty_bytes_are_not_an_image():
    for fn in (probe_image, decode_image):
        with pytest.raises(ImageDecodeError, match="empty"):
            fn(b"")


def test_bytearray_input_is_accepted_and_left_alone():
    data = save(Image.fromarray(gradient()), "JPEG")
    body = bytearray(data[:-2])  # TorchServe passes bytearray; this one lacks its end marker
    assert decode_image(body).shape == (64, 96, 3) and body == data[:-2]
    assert probe_image(bytearray(data)).format == "JPEG"


def test_errors_are_value_errors():
    assert issubclass(ImageDecodeError, ImageError) and issubclass(ImageTooLargeError, ImageError)
    assert issubclass(ImageError, ValueError)


def test_zero_sized_png_is_rejected_cleanly_and_1x1_decodes():
    # PNG forbids zero width/height and Pillow/libpng refuse such headers outright.
    with pytest.raises(ImageDecodeError):
        decode_image(raw_png(0, 0, None))
    out = decode_image(raw_png(1, 1, b"\x80"))
    assert_bgr(out, (1, 1))
    assert out.tolist() == [[[128, 128, 128]]]


def test_over_limit_is_refused_from_the_header_before_decoding(monkeypatch):
    data = raw_png(9000, 9000, bytes(9000))  # 81 megapixels in ~80 KB
    assert len(data) < 200_000
    assert probe_image(data) == ImageInfo("PNG", 9000, 9000, 1, "L")

    def no_decoding(*args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    with pytest.raises(ImageTooLargeError) as err:
        decode_image(data)
    expected = "image is 9000x9000 = 81.0 megapixels, over the limit of 40.0 megapixels"
    assert str(err.value) == expected
    with pytest.raises(ImageTooLargeError):
        decode_image(raw_png(300, 300, bytes(300)), max_pixels=300 * 300 - 1)


def test_absurd_dimensions_do_not_overflow():
    # 2^31-1 squared overflows 32/64-bit pixel counts; Pillow's own bomb cap fires first.
    header = raw_png(2**31 - 1, 2**31 - 1, None)
    with pytest.raises(ImageTooLargeError):
        decode_image(header)
    assert image_io._check_size(2**31 - 1, 2**31 - 1, 2**70) is None


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about broken TIFF tags
def test_garbage_never_escapes_as_another_exception():
    rng = np.random.default_rng(7)
    formats = ("PNG", "JPEG", "GIF", "TIFF", "WEBP", "BMP")
    seeds = [save(Image.fromarray(gradient()), fmt) for fmt in formats]
    for i in range(300):
        data = bytearray(seeds[i % len(seeds)])
        positions = rng.integers(0, len(data), size=8)
        start, stop = sorted(int(p) for p in positions[:2])
        data[start:stop] = rng.integers(0, 256, size=(stop - start) % 64, dtype=np.uint8).tobytes()
        for pos in positions[2:]:
            data[int(pos) % len(data)] = int(rng.integers(0, 256))
        try:
            out = decode_image(bytes(data))
            assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
        except ImageError:
            pass


# --- truncation ----------------------------------------------------------------------


def test_png_cut_in_half_decodes_the_top_rows():
    rgb = gradient(200, 120)
    data = save(Image.fromarray(rgb), "PNG")
    out = decode_image(data[: len(data) // 2])
    assert_bgr(out, (200, 120))
    assert np.array_equal(out[:40], rgb[:40, :, ::-1])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # no process-wide switch was flipped


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_cut_in_half_keeps_its_shape(progressive):
    rgb = gradient(200, 120)
    data = save(Image.fromarray(rgb), "JPEG", quality=95, progressive=progressive)
    out = decode_image(data[: len(data) // 2])
    assert_bgr(out, (200, 120))
    if not progressive:  # the rows before the cut are exactly those of the whole file
        assert np.array_equal(out[:40], decode_image(data)[:40])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_truncated_file_with_exif_orientation_is_still_upright(fmt):
    noise = np.random.default_rng(3).integers(0, 256, (120, 200, 3), dtype=np.uint8)
    data = save(Image.fromarray(noise), fmt, exif=exif_with_orientation(6))
    out, expected = decode_image(data[: len(data) * 7 // 10]), pillow_reference(data)
    assert out.shape == expected.shape == (200, 120, 3)
    assert (out == expected).all(axis=2).mean() > 0.6  # ~70% of the rows, in the right place


def test_header_only_png_is_a_decode_error():
    data = save(Image.fromarray(gradient()), "PNG")
    with pytest.raises(ImageDecodeError):
        decode_image(data[:20])


# --- colour, depth, alpha ------------------------------------------------------------


def test_gray_png_becomes_three_equal_channels():
    gray = gradient()[:, :, 0]
    out = decode_image(save(Image.fromarray(gray), "PNG"))
    assert_bgr(out, gray.shape)
    assert all(np.array_equal(out[:, :, c], gray) for c in range(3))


def test_rgba_transparent_background_becomes_white():
    rgba = np.zeros((20, 30, 4), np.uint8)  # fully transparent black
    rgba[5:10, 5:10] = (0, 0, 0, 255)  # opaque black "text"
    rgba[12:15, 5:10] = (255, 0, 0, 128)  # half-transparent red
    out = decode_image(save(Image.fromarray(rgba), "PNG"))
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[7, 7].tolist() == [0, 0, 0]
    assert out[13, 7].tolist() == [127, 127, 255]


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_transparency_becomes_white(fmt):
    im = Image.new("P", (10, 10), 0)
    im.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    im.paste(1, (0, 0, 5, 10))
    out = decode_image(save(im, fmt, transparency=0))
    assert out[0, 0].tolist() == [30, 20, 10] and out[0, 9].tolist() == [255, 255, 255]


def test_16bit_gray_png_is_scaled_not_truncated():
    values = np.array([[0, 257, 32768, 65280, 65535]], np.uint16)
    out = decode_image(save(Image.fromarray(values), "PNG"))
    assert out[0, :, 0].tolist() == [0, 1, 128, 254, 255]


def test_16bit_gradient_png_maps_max_to_255_and_mid_to_128():
    ramp = np.linspace(0, 65535, 257).astype(np.uint16)
    out = decode_image(raw_png(257, 2, np.repeat(ramp, 3).astype(">u2").tobytes(), 16, 2))
    assert out[0, -1].tolist() == [255, 255, 255] and out[0, 0].tolist() == [0, 0, 0]
    assert abs(int(out[0, 128, 0]) - 128) <= 1


def test_16bit_gray_tiff_is_scaled():
    values = np.array([[0, 32768, 65535]], np.uint16)
    out = decode_image(save(Image.fromarray(values), "TIFF"))
    assert out[0, :, 1].tolist() == [0, 128, 255]


def test_cmyk_jpeg_pure_red_is_red():
    data = save(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG", quality=95)
    assert probe_image(data).mode == "CMYK"
    out = decode_image(data)
    assert np.abs(out.astype(int) - RED_BGR).max() <= 3


@pytest.mark.parametrize("fmt", ["BMP", "WEBP", "TIFF", "PNG"])
def test_lossless_formats_round_trip(fmt):
    rgb = gradient()
    kw = {"lossless": True} if fmt == "WEBP" else {}
    out = decode_image(save(Image.fromarray(rgb), fmt, **kw))
    assert np.array_equal(out, rgb[:, :, ::-1])


# --- orientation and frames ----------------------------------------------------------


def test_exif_orientation_6_jpeg_is_rotated_upright():
    data = save(marked(40, 20), "JPEG", quality=95, exif=exif_with_orientation(6))
    assert probe_image(data)[1:3] == (20, 40)  # probe reports the upright size
    out = decode_image(data)
    assert_bgr(out, (40, 20))  # width and height swapped
    assert np.abs(out[2, 17].astype(int) - RED_BGR).max() < 30  # top-left went top-right
    assert out[2, 2].min() > 220 and out[37, 2].min() > 220


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP"])
def test_every_orientation_matches_pillow_exif_transpose(fmt, orientation):
    kw = {"lossless": True} if fmt == "WEBP" else {"quality": 95} if fmt == "JPEG" else {}
    data = save(marked(40, 20), fmt, exif=exif_with_orientation(orientation), **kw)
    out, expected = decode_image(data), pillow_reference(data)
    assert out.shape == expected.shape
    assert probe_image(data)[1:3] == (out.shape[1], out.shape[0])
    assert np.abs(out.astype(int) - expected).max() <= (8 if fmt == "JPEG" else 0)


@pytest.mark.parametrize("fmt", ["TIFF", "GIF"])
def test_multi_frame_returns_the_first_frame(fmt):
    frames = [Image.new("RGB", (16, 12), colour) for colour in ("red", "lime", "blue")]
    data = save(frames[0], fmt, save_all=True, append_images=frames[1:])
    assert probe_image(data).frames == 3
    assert decode_image(data)[6, 8].tolist() == list(RED_BGR)


# --- both decoder paths agree --------------------------------------------------------


def _mode_samples() -> dict[str, bytes]:
    rgb = gradient()
    im = Image.fromarray(rgb)
    rgba = np.dstack([rgb, np.tile(np.arange(96, dtype=np.uint8) * 2, (64, 1))])
    return {
        "png-L": save(im.convert("L"), "PNG"),
        "png-1": save(im.convert("1"), "PNG"),
        "png-P": save(im.convert("P"), "PNG"),
        "png-RGB": save(im, "PNG"),
        "png-RGBA": save(Image.fromarray(rgba), "PNG"),
        "png-RGBA-opaque": save(im.convert("RGBA"), "PNG"),
        "png-LA": save(Image.fromarray(rgba).convert("LA"), "PNG"),
        "png-I16": save(Image.fromarray(rgb[:, :, 0].astype(np.uint16) * 257), "PNG"),
        "png-RGB16": raw_png(96, 2, np.arange(96 * 3, dtype=">u2").tobytes() * 200, 16, 2),
        "png-exif8": save(im, "PNG", exif=exif_with_orientation(8)),
        "jpeg-L": save(im.convert("L"), "JPEG", quality=90),
        "jpeg-RGB": save(im, "JPEG", quality=90),
        "jpeg-exif6": save(im, "JPEG", quality=90, exif=exif_with_orientation(6)),
    }


@pytest.mark.parametrize("name", sorted(_mode_samples()))
def test_opencv_and_pillow_paths_agree(name, monkeypatch):
    data = _mode_samples()[name]
    assert image_io._use_opencv(Image.open(io.BytesIO(data)))
    fast = decode_image(data)
    monkeypatch.setattr(image_io, "_use_opencv", lambda im: False)
    slow = decode_image(data)
    assert fast.shape == slow.shape
    # Identical for PNG, except that Pillow reads 16-bit RGB as v >> 8 where we round v / 257;
    # JPEG allows for differences between the two bundled libjpegs.
    tolerance = {"png-RGB16": 1, "jpeg-L": 2, "jpeg-RGB": 2, "jpeg-exif6": 2}.get(name, 0)
    assert np.abs(fast.astype(int) - slow).max() <= tolerance


# --- base64 and PNG encoding ---------------------------------------------------------


def test_base64_with_and_without_data_url_prefix():
    rgb = gradient()
    text = base64.b64encode(save(Image.fromarray(rgb), "PNG")).decode()
    wrapped = f"  data:image/png;base64,{text[:40]}\n{text[40:]}  "
    for s in (text, f"data:image/png;base64,{text}", wrapped):
        assert np.array_equal(image_from_base64(s, max_pixels=10_000), rgb[:, :, ::-1])
    urlsafe = base64.urlsafe_b64encode(save(Image.fromarray(rgb), "PNG")).decode().rstrip("=")
    assert image_from_base64(urlsafe).shape == (64, 96, 3)
    with pytest.raises(ImageTooLargeError):
        image_from_base64(text, max_pixels=100)


@pytest.mark.parametrize(
    "bad", ["not base64!!", "abcde", "data:image/png,iVBORw0KGgo=", "data:image/png;base64,", "é"]
)
def test_bad_base64_is_a_decode_error(bad):
    with pytest.raises(ImageDecodeError):
        image_from_base64(bad, max_pixels=1000)


def test_encode_png_round_trips():
    bgr = np.ascontiguousarray(gradient()[:, :, ::-1])
    data = encode_png(bgr)
    assert data.startswith(b"\x89PNG") and np.array_equal(decode_image(data), bgr)
    with pytest.raises(ValueError):
        encode_png(np.zeros((0, 5, 3), np.uint8))
    with pytest.raises(ValueError):
        encode_png(np.zeros((4, 5, 2), np.uint8))


# --- real files ----------------------------------------------------------------------

needs_tesseract_data = pytest.mark.skipif(
    not TESSERACT_TESTING.is_dir(), reason=f"{TESSERACT_TESTING} is not present"
)


@needs_tesseract_data
def test_phototest_tif():
    data = (TESSERACT_TESTING / "phototest.tif").read_bytes()
    assert probe_image(data) == ImageInfo("TIFF", 640, 480, 1, "1")
    out = decode_image(data)
    assert_bgr(out, (480, 640))
    assert set(np.unique(out).tolist()) <= {0, 255} and out.mean() > 200  # black text on white


@needs_tesseract_data
@pytest.mark.parametrize(
    "name", ["phototest-rotated-R.png", "phototestrot.tif", "eurotext.tif", "deslant.tif"]
)
def test_real_files_match_pillow(name):
    path = TESSERACT_TESTING / name
    if not path.exists():
        pytest.skip(f"{path} is not present")
    data = path.read_bytes()
    info = probe_image(data)
    out = decode_image(data)
    assert_bgr(out, (info.height, info.width))
    if info.mode not in ("RGBA", "LA"):  # Pillow's convert("RGB") drops alpha; we composite
        assert np.array_equal(out, pillow_reference(data))
