"""Turn untrusted uploaded bytes into an upright BGR uint8 image, safely.

Shared by the gateway and the TorchServe handlers, so both must see the same pixels.
Pillow always parses the header first (format allow-list, pixel limit, EXIF orientation).
- OpenCV ``cv2.imdecode`` decodes greyscale/RGB JPEG and PNG without tRNS that is not
  animated (any bit depth, alpha included): about 3x faster than Pillow, identical pixels.
- Pillow decodes everything else: BMP, TIFF, WebP, GIF, CMYK/YCCK JPEG, PNG with tRNS
  (OpenCV drops it on greyscale PNG) or APNG, and whatever OpenCV fails on (truncated PNG).
- OpenCV is told to ignore EXIF orientation; we apply the header's value ourselves, the way
  PIL.ImageOps.exif_transpose does on the Pillow path, so both paths agree.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import cv2
import numpy as np
from PIL import ExifTags, Image, ImageOps

from handlers.api.codecs import decode_base64
from handlers.api.errors import BadImage, OcrServeError, PayloadTooLarge
from handlers.api.settings import DEFAULT_MAX_PIXELS

__all__ = [
    "DEFAULT_MAX_PIXELS", "ImageDecodeError", "ImageError", "ImageInfo", "ImageTooLargeError",
    "decode_frame", "decode_image", "encode_png", "image_from_base64", "probe_image",
]

# Only the formats we serve: every other Pillow plugin is attack surface for untrusted
# uploads (EPS even shells out to Ghostscript).
_FORMATS = ("JPEG", "PNG", "BMP", "TIFF", "WEBP", "GIF")
# Pillow reports camera JPEGs carrying a multi-picture index as "MPO"; it is still JPEG.
_JPEG_FAMILY = ("JPEG", "MPO")
_SOI, _EOI = b"\xff\xd8\xff", b"\xff\xd9"
# Pillow's 32-bit "I" mode carries 16-bit samples (e.g. 16-bit PGM and some TIFFs).
_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
# Cost limits (_check_cost): images up to this size are never refused for their file size.
_COST_FREE_PIXELS = 4_000_000
_MAX_PIXELS_PER_BYTE = 5_000
# Depth and alpha conversion works on bands of rows of at most this many input bytes.
_BAND_BYTES = 16 * 1024 * 1024
# EXIF orientation -> the operation that makes the image upright, as exif_transpose does it.
_UPRIGHT = {
    2: lambda a: cv2.flip(a, 1),
    3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
    4: lambda a: cv2.flip(a, 0),
    5: cv2.transpose,
    6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
    7: lambda a: cv2.flip(cv2.transpose(a), -1),
    8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
}


class ImageError(OcrServeError, ValueError):
    """The uploaded bytes are not a usable image."""


class ImageDecodeError(ImageError, BadImage):
    """Not an image, corrupt, or an unsupported format (a 400 BadImage on the wire)."""


class ImageTooLargeError(ImageError, PayloadTooLarge):
    """The image header claims more pixels than allowed (a 413 PayloadTooLarge on the wire)."""


class ImageInfo(NamedTuple):
    """Header facts about an image, read without decoding its pixels."""

    format: str
    width: int
    height: int
    frames: int
    mode: str


def probe_image(data: bytes) -> ImageInfo:
    """Read format, upright size (as decode_image returns it), frames and mode from the header."""
    with _decoder_errors(), _open(data) as im:
        fmt = "JPEG" if im.format in _JPEG_FAMILY else str(im.format)
        width, height = _upright_size(im, _orientation(im))
        return ImageInfo(fmt, width, height, _frame_count(im), im.mode)


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode the first frame to an upright, contiguous (H, W, 3) uint8 BGR array."""
    data = bytes(data)  # TorchServe hands request bodies over as bytearray; never mutate those
    if data[:3] == _SOI and not data.endswith(_EOI):
        # A missing end marker means a truncated JPEG: supplying it makes libjpeg finish
        # the image with blank blocks, exactly what Pillow's LOAD_TRUNCATED_IMAGES does.
        data += _EOI
    with _decoder_errors(), _open(data) as im:
        _check_size(im.width, im.height, max_pixels)
        _check_cost(im, data, max_pixels)
        # Must run before any Pillow decoding: see _orientation().
        orientation = _orientation(im)
        if _use_opencv(im):
            image = _decode_opencv(data, im)
            if image is not None:
                return _apply_orientation(image, orientation)
        return _decode_pillow(im)


def decode_frame(data: bytes, index: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode frame `index` (0-based) of a multi-frame image, e.g. one page of a TIFF, to BGR.

    Always Pillow (the only decoder that seeks frames), each call on its own parser, so frames
    can be decoded from several threads; the pixel limit applies to that frame.
    """
    with _decoder_errors(), _open(bytes(data)) as im:
        im.seek(index)
        _check_size(im.width, im.height, max_pixels)
        return _decode_pillow(im)


def encode_png(image: np.ndarray) -> bytes:
    """Encode a uint8/uint16 (H, W[, 1|3|4]) BGR(A) array as PNG, favouring speed."""
    channels = 1 if image.ndim == 2 else image.shape[-1] if image.ndim == 3 else 0
    if image.dtype not in (np.uint8, np.uint16) or channels not in (1, 3, 4) or not image.size:
        raise ValueError(
            "encode_png needs a non-empty uint8/uint16 array of shape (H, W) or (H, W, 1|3|4), "
            f"got shape {image.shape} dtype {image.dtype}"
        )
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {image.shape} {image.dtype} array as PNG")
    return buf.tobytes()


def image_from_base64(s: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode base64 text, optionally a ``data:image/...;base64,`` URL, to a BGR image."""
    return decode_image(_b64decode(s), max_pixels)


def _b64decode(s: str) -> bytes:
    """Base64 as handlers/api/codecs.py reads it (the gateway uses the same function)."""
    try:
        return decode_base64(s)
    except BadImage as exc:
        raise ImageDecodeError(f"could not decode image: {exc.message}") from None


@contextmanager
def _decoder_errors() -> Iterator[None]:
    """Turn anything a decoder raises into ImageDecodeError; ours pass through."""
    try:
        yield
    except ImageError:
        raise
    except MemoryError as e:
        raise ImageDecodeError("could not decode image: not enough memory to decode it") from e
    # Pillow and OpenCV raise OSError, SyntaxError, ValueError, struct.error, cv2.error, ...
    # on hostile input; none of that may reach the API as a 500.
    except Exception as e:
        detail = str(e) or type(e).__name__
        raise ImageDecodeError(f"could not decode image: corrupt or unsupported ({detail})") from e


def _open(data: bytes) -> Image.Image:
    """Parse the header lazily with Pillow; no pixel data is decoded yet."""
    if not data:
        raise ImageDecodeError("could not decode image: the upload is empty (0 bytes)")
    try:
        return Image.open(io.BytesIO(data), formats=_FORMATS)
    except Image.DecompressionBombError as e:
        # Pillow's own hard cap (2x Image.MAX_IMAGE_PIXELS) fired while reading the header.
        raise ImageTooLargeError(f"image is too large to decode: {e}") from e
    except Image.UnidentifiedImageError as e:
        raise ImageDecodeError(
            "could not decode image: not a supported image format "
            f"(got {len(data)} bytes starting with {bytes(data[:16])!r}); "
            "supported formats are JPEG, PNG, BMP, TIFF, WebP and GIF"
        ) from e


def _check_size(width: int, height: int, max_pixels: int) -> None:
    """Refuse images whose header claims more than max_pixels pixels."""
    pixels = width * height  # Python ints: no overflow whatever the header claims
    if pixels > max_pixels:
        raise ImageTooLargeError(
            f"image is {width}x{height} = {pixels / 1e6:.1f} megapixels, "
            f"over the limit of {max_pixels / 1e6:.1f} megapixels"
        )


def _check_cost(im: Image.Image, data: bytes, max_pixels: int) -> None:
    """Refuse small files that decode to far more work than their size suggests.

    A 2 KB JPEG whose header claims 6300 x 6300, or a 300 KB 16-bit RGBA PNG of 39 megapixels,
    passes the pixel limit yet costs seconds and gigabytes to decode twice (gateway and worker).
    Real photos and scans stay far below both limits: a blank 300 dpi A4 page as a 1-bit fax
    TIFF holds about 2,000 pixels per byte; 16-bit images are limited to a quarter of the pixels.
    """
    pixels = im.width * im.height
    if pixels > _COST_FREE_PIXELS and pixels > len(data) * _MAX_PIXELS_PER_BYTE:
        raise ImageTooLargeError(
            f"image declares {im.width}x{im.height} pixels in only {len(data)} bytes (over "
            f"{_MAX_PIXELS_PER_BYTE} pixels per byte): refused as a decompression bomb"
        )
    if _bits_per_sample(im, data) > 8 and pixels > max_pixels // 4:
        raise ImageTooLargeError(
            f"16-bit image of {pixels / 1e6:.1f} megapixels, over the limit of {max_pixels / 4e6:.1f} "
            "megapixels for images with more than 8 bits per sample"
        )


def _bits_per_sample(im: Image.Image, data: bytes) -> int:
    """Bits per sample from the header: Pillow reads 16-bit colour PNGs as 8-bit modes."""
    if im.format == "PNG" and len(data) > 24:
        return data[24]  # IHDR bit depth, right after the signature, length, type, width, height
    return 16 if im.mode in _HIGH_DEPTH_MODES else 8


def _frame_count(im: Image.Image) -> int:
    """Number of frames, or 1 if counting them fails on a damaged file."""
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception:  # the first frame may still decode, so probing should not fail
        return 1


def _orientation(im: Image.Image) -> int:
    """EXIF (or XMP) orientation from the header, 1..8; 1 means already upright."""
    try:
        # The base-class method reads only what the header parse found (PngImageFile's
        # override would decode everything to look for a late eXIf chunk). Pillow caches the
        # result, so exif_transpose() in _decode_pillow sees this same header EXIF.
        value = Image.Image.getexif(im).get(ExifTags.Base.Orientation, 1)
    except Exception:  # broken EXIF must not make a good image undecodable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _upright_size(im: Image.Image, orientation: int) -> tuple[int, int]:
    """Width and height once oriented; Pillow already reports TIFF sizes upright."""
    if orientation in (5, 6, 7, 8) and im.format != "TIFF":
        return im.height, im.width
    return im.width, im.height


def _apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip like PIL.ImageOps.exif_transpose so the image is upright."""
    upright = _UPRIGHT.get(orientation)
    return image if upright is None else upright(image)


def _use_opencv(im: Image.Image) -> bool:
    """Whether OpenCV decodes this image identically to Pillow, only faster."""
    if im.format in _JPEG_FAMILY:
        return im.mode in ("L", "RGB")  # CMYK/YCCK: Pillow handles Adobe's inverted CMYK
    if im.format == "PNG":
        # OpenCV ignores tRNS on greyscale PNG; APNG frame choice is left to Pillow.
        return "transparency" not in im.info and not getattr(im, "is_animated", False)
    return False


def _decode_opencv(data: bytes, im: Image.Image) -> np.ndarray | None:
    """Decode JPEG/PNG with OpenCV; None means 'let Pillow try'."""
    jpeg = im.format in _JPEG_FAMILY
    # UNCHANGED keeps PNG alpha and 16 bits for our own compositing and scaling.
    flags = cv2.IMREAD_COLOR_BGR if jpeg else cv2.IMREAD_UNCHANGED
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error:
        return None
    # Only trust a result of exactly the size we checked against the pixel limit.
    if image is None or image.shape[:2] != (im.height, im.width):
        return None
    return _to_bgr8(image, rgb=False)


def _decode_pillow(im: Image.Image) -> np.ndarray:
    """Decode the current (first) frame with Pillow, upright."""
    _load(im)
    # Pillow's TIFF loader already transposes (and drops the tag, making this a no-op);
    # other formats, and TIFFs cut short before that step, are transposed here.
    ImageOps.exif_transpose(im, in_place=True)
    if im.mode in _HIGH_DEPTH_MODES:
        return _to_bgr8(np.asarray(im), rgb=True)
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        return _to_bgr8(np.asarray(im.convert("RGBA")), rgb=True)
    if im.mode in ("1", "L"):
        return _to_bgr8(np.asarray(im.convert("L")), rgb=True)
    return _to_bgr8(np.asarray(im.convert("RGB")), rgb=True)


def _load(im: Image.Image) -> None:
    """Decode pixels, keeping what was decoded before a truncated file ran out."""
    try:
        im.load()
    except OSError as e:
        if "truncated" not in str(e).lower():
            raise
        # Pillow decoders write rows straight into the image buffer, so the rows decoded
        # before the data ran out are already there. Dropping the pending tiles keeps them
        # without setting the process-wide ImageFile.LOAD_TRUNCATED_IMAGES, which would
        # change Pillow's behaviour for every other thread and library in the process.
        im.tile = []
        im.load()  # raises "cannot load this image" if no buffer was ever allocated


def _to_bgr8(image: np.ndarray, rgb: bool) -> np.ndarray:
    """Normalise depth, alpha and channel order to contiguous (H, W, 3) uint8 BGR.

    Large images go in bands of rows: the 16-bit and alpha arithmetic needs temporaries several
    times the input's size (a 40-megapixel 16-bit RGBA PNG of 300 KB cost 4 GB in one piece)."""
    height = image.shape[0]
    row_bytes = max(1, image.nbytes // max(1, height))
    if image.nbytes <= _BAND_BYTES or height < 2:
        return _to_bgr8_band(image, rgb)
    out = np.empty((height, image.shape[1], 3), np.uint8)
    step = max(1, _BAND_BYTES // row_bytes)
    for top in range(0, height, step):
        out[top:top + step] = _to_bgr8_band(image[top:top + step], rgb)
    return out


def _to_bgr8_band(image: np.ndarray, rgb: bool) -> np.ndarray:
    if image.dtype != np.uint8:
        image = _to_8bit(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        image = _composite_on_white(image)
    if rgb:
        return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    return np.ascontiguousarray(image)


def _to_8bit(image: np.ndarray) -> np.ndarray:
    """Scale 16-bit samples to 8 bits with rounding (v / 257), so 65535 -> 255."""
    wide = np.clip(image, 0, 65535).astype(np.uint32)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def _composite_on_white(image: np.ndarray) -> np.ndarray:
    """Flatten 4-channel colour+alpha onto white: text on transparency is dark-on-white."""
    alpha = image[:, :, 3:]
    if alpha.min() == 255:  # fully opaque, the common case for screenshots
        return image[:, :, :3]
    a = alpha.astype(np.uint16)
    flat = (image[:, :, :3] * a + 255 * (255 - a) + 127) // 255
    return flat.astype(np.uint8)
