"""A rendered line of Chinese text (WenQuanYi Zen Hei, as the receipt generator uses)."""
from __future__ import annotations

from pathlib import Path

import pytest

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


def line_png(text: str, size: int = 40) -> bytes:
    import io

    from PIL import Image, ImageDraw, ImageFont

    if not FONT.is_file():
        pytest.skip(f"no CJK font at {FONT} (Debian fonts-wqy-zenhei)")
    font = ImageFont.truetype(str(FONT), size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("RGB", (right - left + 40, bottom - top + 30), "white")
    ImageDraw.Draw(image).text((20 - left, 15 - top), text, font=font, fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
