"""Base64 as clients send it, decoded the same way by the workers and the gateway."""
from __future__ import annotations

import base64
import binascii

from handlers.api.errors import BadImage

# JSON clients wrap lines, and some send the URL-safe alphabet (RFC 4648 section 5) without padding.
_URLSAFE_TO_STD = str.maketrans("-_", "+/")


def decode_base64(text: str, what: str = "image") -> bytes:
    """Standard or URL-safe base64, padded or not, line breaks allowed, optionally a
    ``data:<type>;base64,`` URL; BadImage (400) naming `what` for anything else."""
    if not isinstance(text, str):
        raise BadImage(f"{what} must be a base64 string, got {type(text).__name__}")
    text = text.strip()
    if text[:5].lower() == "data:":
        header, comma, text = text.partition(",")
        if not comma or not header.lower().endswith(";base64"):
            raise BadImage(f"{what}: a data URL must look like 'data:image/png;base64,<data>'")
    text = "".join(text.split()).translate(_URLSAFE_TO_STD)
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadImage(f"{what} is not valid base64 ({exc})") from None
