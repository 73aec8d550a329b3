"""Drawing one page of an /ocr answer over its image (pure PIL + numpy); used by POST /visualize and the CLI.

Conventions: boxes are flat polygons `[x1, y1, ..., xn, yn]` in original-image pixels, as in the /ocr
response; a numpy image is BGR (OpenCV's order, what `handlers.ops.image_io.decode_image` returns), a
PIL image is taken as it is. Lines are drawn green, word boxes blue; with KIE labels every line takes its
class's colour (a key and a value of the same field share a hue, keys drawn lighter) and each key -> value
pair is an arrow. `text="side"` puts the recognised text on a white canvas to the right of the image, each
string inside its box (MMOCR 0.x's `imshow` / `output=` picture); `text="over"` writes it above each box.
"""
from __future__ import annotations

import colorsys
import io
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Fonts tried in order: the first covering CJK as well as Latin wins. Without any of them Pillow's
#: built-in font is used: Latin only, so CJK text is drawn as empty boxes (the drawing still works).
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian fonts-noto-cjk
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian fonts-wqy-zenhei (scripts/setup_browser.sh)
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian fonts-wqy-microhei
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # Debian fonts-dejavu-core: Latin, Greek, Cyrillic
)
LINE_RGB = (0, 200, 0)
WORD_RGB = (30, 110, 255)
NEUTRAL_LABELS = {"others", "ignore"}


@dataclass(frozen=True)
class VisOptions:
    """What to draw; `font_path` overrides the font search (a .ttf/.ttc/.otf file)."""

    lines: bool = True
    words: bool = True
    text: Literal["none", "side", "over"] = "side"
    pairs: bool = True
    font_path: str | None = None


@lru_cache(maxsize=1)
def find_font_path() -> str | None:
    """The first installed font of FONT_CANDIDATES, or None (Pillow's built-in font is used then)."""
    return next((p for p in FONT_CANDIDATES if Path(p).is_file()), None)


@lru_cache(maxsize=64)
def _font(size: int, path: str | None) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    path = path or find_font_path()
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size)


def label_colour(label: str) -> tuple[int, int, int]:
    """A stable colour per KIE class: one hue per field (`X_key` / `X_value`), keys lighter; Others grey."""
    lowered = label.lower()
    if lowered in NEUTRAL_LABELS:
        return (150, 150, 150)
    field, _, kind = lowered.rpartition("_") if lowered.endswith(("_key", "_value")) else (lowered, "", "")
    hue = (zlib.crc32(field.encode()) % 360) / 360.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.45 if kind == "key" else 0.9, 0.95 if kind == "key" else 0.8)
    return int(r * 255), int(g * 255), int(b * 255)


def to_pil(image: Image.Image | np.ndarray) -> Image.Image:
    """An RGB PIL image; numpy arrays are BGR (or grey) as OpenCV decodes them."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    array = np.asarray(image)
    if array.ndim == 2:
        return Image.fromarray(array.astype(np.uint8)).convert("RGB")
    return Image.fromarray(np.ascontiguousarray(array[:, :, 2::-1]).astype(np.uint8))


def _points(box: list[float]) -> list[tuple[float, float]]:
    return [(float(box[i]), float(box[i + 1])) for i in range(0, len(box) - 1, 2)]


def _line_colour(item: Mapping[str, Any]) -> tuple[int, int, int]:
    return label_colour(item["label"]) if item.get("label") else LINE_RGB


def draw_page(image: Image.Image | np.ndarray, page: Mapping[str, Any], options: VisOptions = VisOptions()
              ) -> Image.Image:
    """The image with the page's line polygons, word boxes, KIE colours and pairs (and text) drawn on it.

    Args:
        image: the page's image (numpy arrays BGR).
        page: one element of the /ocr response's `pages` (`result` lines, optional `pairs`).
        options: what to draw.
    Returns:
        A new RGB image: the input's size, or twice its width with `text="side"`.
    """
    base = to_pil(image)
    width = 1 + max(base.size) // 500  # line width grows with the image so boxes stay visible
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    lines = list(page.get("result", []))
    for item in lines:
        _draw_line(draw, item, options, width)
    if options.pairs:
        for pair in page.get("pairs") or []:
            _draw_pair(draw, lines, pair, width)
    if options.text == "over":
        for item in lines:
            _text_over(draw, item, options.font_path)
    drawn = Image.alpha_composite(base.convert("RGBA"), overlay).convert("RGB")
    if options.text != "side":
        return drawn
    return _side_by_side(drawn, lines, options.font_path, width)


def _draw_line(draw: ImageDraw.ImageDraw, item: Mapping[str, Any], options: VisOptions, width: int) -> None:
    colour = _line_colour(item)
    if options.lines and len(item["box"]) >= 6:
        fill = (*colour, 60) if item.get("label") else None
        draw.polygon(_points(item["box"]), outline=(*colour, 255), fill=fill, width=width)
    if options.words:
        for word in item.get("words") or []:
            draw.polygon(_points(word["box"]), outline=(*WORD_RGB, 255), width=max(1, width - 1))


def _centre(box: list[float]) -> tuple[float, float]:
    pts = np.asarray(_points(box))
    return float(pts[:, 0].mean()), float(pts[:, 1].mean())


def _draw_pair(draw: ImageDraw.ImageDraw, lines: list, pair: Mapping[str, Any], width: int) -> None:
    """An arrow from the key line's centre to the value line's centre, in the key's colour."""
    src, dst = pair.get("from", pair.get("from_")), pair["to"]
    if not (0 <= src < len(lines) and 0 <= dst < len(lines)):
        return
    (x0, y0), (x1, y1) = _centre(lines[src]["box"]), _centre(lines[dst]["box"])
    colour = (*_line_colour(lines[src]), 255)
    draw.line([(x0, y0), (x1, y1)], fill=colour, width=width + 1)
    angle, head = np.arctan2(y1 - y0, x1 - x0), 6.0 + 3 * width
    wings = [(x1 - head * np.cos(angle + s), y1 - head * np.sin(angle + s)) for s in (0.45, -0.45)]
    draw.polygon([(x1, y1), *wings], fill=colour)


def _caption(item: Mapping[str, Any]) -> str:
    text = item.get("text") or ""
    return f"{text} [{item['label']}]" if item.get("label") else text


def _text_over(draw: ImageDraw.ImageDraw, item: Mapping[str, Any], font_path: str | None) -> None:
    caption = _caption(item)
    if not caption:
        return
    pts = np.asarray(_points(item["box"]))
    x, y = float(pts[:, 0].min()), float(pts[:, 1].min())
    font = _font(max(10, min(28, int((pts[:, 1].max() - y) * 0.6))), font_path)
    left, top, right, bottom = draw.textbbox((x, y), caption, font=font, anchor="lb")
    draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=(*_line_colour(item), 200))
    draw.text((x, y), caption, font=font, anchor="lb", fill=(0, 0, 0, 255))


def _fitted_font(draw: ImageDraw.ImageDraw, text: str, box_w: float, box_h: float, font_path: str | None):
    """The largest font up to the box's height whose rendering of `text` fits the box's width."""
    size = int(max(8, min(box_h * 0.8, 96)))
    font = _font(size, font_path)
    text_w = draw.textlength(text, font=font)
    if text_w > box_w > 0:
        size = int(max(8, size * box_w / text_w))
        font = _font(size, font_path)
    return font


def _side_by_side(drawn: Image.Image, lines: list, font_path: str | None, width: int) -> Image.Image:
    """MMOCR's picture: the drawn image, and beside it a white page with every text inside its box."""
    canvas = Image.new("RGB", (drawn.width * 2, drawn.height), "white")
    canvas.paste(drawn, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for item in lines:
        pts = np.asarray(_points(item["box"])) + [drawn.width, 0]
        draw.polygon([tuple(p) for p in pts], outline=_line_colour(item), width=width)
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        if item.get("text"):
            font = _fitted_font(draw, item["text"], x1 - x0, y1 - y0, font_path)
            draw.text(((x0 + x1) / 2, (y0 + y1) / 2), item["text"], font=font, anchor="mm", fill=(0, 0, 0))
        if item.get("label"):  # the class name in small type on the box's top edge, in the class colour
            font = _font(max(9, min(18, int((y1 - y0) * 0.4))), font_path)
            draw.text((x0, y0 - 1), item["label"], font=font, anchor="ld", fill=_line_colour(item))
    return canvas


def render_png(image: Image.Image | np.ndarray, page: Mapping[str, Any], options: VisOptions = VisOptions()
               ) -> bytes:
    """`draw_page` encoded as PNG bytes."""
    out = io.BytesIO()
    # zlib level 3: half the encoding time of the default 6 for ~15% more bytes (a photo-sized page)
    draw_page(image, page, options).save(out, format="PNG", compress_level=3)
    return out.getvalue()
