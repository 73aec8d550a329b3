"""Images the client accepts (path, bytes, PIL image, numpy array) turned into upload bytes."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Union

ImageLike = Union[str, os.PathLike, bytes, bytearray, memoryview, Any]


def _is_array(value: Any) -> bool:
    # Checked by duck type so that numpy is never imported by the client itself.
    return hasattr(value, "__array_interface__") and hasattr(value, "shape")


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def array_to_png(array: Any, channel_order: str = "RGB") -> bytes:
    """PNG bytes of an HxW or HxWx3/4 uint8 array; `channel_order='BGR'` for OpenCV/mmcv arrays."""
    from PIL import Image

    if array.ndim == 3 and array.shape[2] in (3, 4) and channel_order.upper() == "BGR":
        array = array[..., [2, 1, 0] + ([3] if array.shape[2] == 4 else [])]
    if str(array.dtype) != "uint8":
        raise TypeError(f"image arrays must be uint8, got {array.dtype}")
    return _png(Image.fromarray(array))


def to_upload(image: ImageLike, channel_order: str = "RGB") -> tuple[str, bytes]:
    """(file name, bytes) for a multipart upload; the gateway sniffs the format from the bytes."""
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        return path.name, path.read_bytes()
    if isinstance(image, (bytes, bytearray, memoryview)):
        return "image", bytes(image)
    if _is_array(image):
        return "image.png", array_to_png(image, channel_order)
    if hasattr(image, "save") and hasattr(image, "mode"):  # a PIL image
        return "image.png", _png(image)
    raise TypeError(f"cannot send a {type(image).__name__}: give a path, bytes, a PIL image or a numpy array")
