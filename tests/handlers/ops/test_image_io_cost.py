"""Cost of decoding hostile-but-valid images: memory stays near the decoded image's own size."""
from __future__ import annotations

import tracemalloc

import cv2
import numpy as np

from handlers.ops import image_io
from handlers.ops.image_io import decode_image


def _rgba16(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 65536, (height, width, 4), dtype=np.uint16)
    image[: height // 2, :, 3] = 65535  # half opaque, half translucent
    return image


def test_banded_conversion_gives_the_same_pixels():
    image = _rgba16(1500, 1500)  # 18 MB: more than one band
    assert image.nbytes > image_io._BAND_BYTES
    np.testing.assert_array_equal(image_io._to_bgr8(image, rgb=False), image_io._to_bgr8_band(image, rgb=False))


def test_16bit_rgba_conversion_peaks_near_its_input_size():
    image = _rgba16(2600, 2600)  # 54 MB of samples, 20 MB of output
    tracemalloc.start()
    try:
        out = image_io._to_bgr8(image, rgb=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.shape == (2600, 2600, 3) and out.dtype == np.uint8
    # output + a few band-sized temporaries; the unbanded arithmetic peaked at ~5x the input
    assert peak < out.nbytes + 8 * image_io._BAND_BYTES, peak / 1e6


def test_a_16bit_rgba_png_decodes_to_8bit_bgr():
    image = _rgba16(64, 80)
    ok, png = cv2.imencode(".png", image)
    assert ok
    decoded = decode_image(png.tobytes())
    assert decoded.shape == (64, 80, 3)
    np.testing.assert_array_equal(decoded, image_io._to_bgr8_band(image, rgb=False))


def test_a_small_jpeg_claiming_a_huge_page_is_refused_before_decoding():
    import struct

    import pytest

    from handlers.ops.image_io import ImageTooLargeError

    ok, jpeg = cv2.imencode(".jpg", np.full((8, 8, 3), 255, np.uint8))
    patched = bytearray(jpeg.tobytes())
    at = patched.find(b"\xff\xc0")
    patched[at + 5:at + 9] = struct.pack(">HH", 6300, 6300)  # 39.7 MP in ~700 bytes
    with pytest.raises(ImageTooLargeError, match="decompression bomb"):
        decode_image(bytes(patched))
    patched[at + 5:at + 9] = struct.pack(">HH", 1000, 1000)  # 1 MP: small images are never refused for it
    assert decode_image(bytes(patched)).shape == (1000, 1000, 3)


def test_16bit_images_get_a_quarter_of_the_pixel_limit():
    import pytest

    from handlers.ops.image_io import ImageTooLargeError

    wide = np.full((300, 300, 3), 40_000, np.uint16)
    ok, png16 = cv2.imencode(".png", wide)
    ok, png8 = cv2.imencode(".png", (wide // 257).astype(np.uint8))
    with pytest.raises(ImageTooLargeError, match="16-bit"):
        decode_image(png16.tobytes(), max_pixels=200_000)  # 90,000 > 200,000 / 4
    assert decode_image(png8.tobytes(), max_pixels=200_000).shape == (300, 300, 3)
    assert decode_image(png16.tobytes(), max_pixels=400_000).shape == (300, 300, 3)
