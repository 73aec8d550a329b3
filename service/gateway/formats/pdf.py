"""Searchable PDF: each page image with an invisible text layer, one text run per word, placed,
sized and stretched so that the run covers the word's box (what search, select and copy use).

Written with fpdf2 (pure Python, maintained, PDF text render mode 3 "invisible" and TrueType
subsetting built in, so copied text is Unicode). Page size: pixels at the page's `dpi` when the
response gives one, else 150 dpi. Text uses DejaVu Sans (fonts-dejavu-core): characters it lacks
(CJK, for one) are left out of the text layer.
"""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from fpdf import FPDF
from PIL import Image

from service.gateway.formats.geometry import blocks_of, words_of
from service.gateway.visualize import to_pil

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DEFAULT_DPI = 150
# DejaVu Sans: ascender 0.928, descender 0.236 of the em; a word's box spans roughly both.
ASCENT, DESCENT = 0.928, 0.236


def _jpeg(image: Image.Image) -> io.BytesIO:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    buf.seek(0)
    return buf


def _word(pdf: FPDF, word: dict, scale: float) -> None:
    """One invisible run over the word's polygon (its top edge gives the angle)."""
    pts = np.asarray(word["box"], np.float64).reshape(-1, 2) * scale
    text = "".join(ch for ch in word["text"] if pdf.current_font.cmap.get(ord(ch)) is not None)  # drop glyphless
    if not text.strip() or len(pts) < 4:
        return
    (x0, y0), (x1, y1), _, (x3, y3) = pts[:4]
    width = math.hypot(x1 - x0, y1 - y0)
    height = math.hypot(x3 - x0, y3 - y0)
    if width < 1 or height < 1:
        return
    size = height / (ASCENT + DESCENT)
    pdf.set_font_size(size)
    pdf.set_stretching(100)  # the width is measured under the current stretching
    natural = pdf.get_string_width(text)
    pdf.set_stretching(100 * width / natural if natural else 100)
    angle = -math.degrees(math.atan2(y1 - y0, x1 - x0))
    baseline = (x0 + (x3 - x0) * ASCENT / (ASCENT + DESCENT), y0 + (y3 - y0) * ASCENT / (ASCENT + DESCENT))
    with pdf.rotation(angle, x=baseline[0], y=baseline[1]):
        pdf.text(baseline[0], baseline[1], text)


def _page(pdf: FPDF, page: dict[str, Any], image: Any) -> None:
    scale = 72 / (page.get("dpi") or DEFAULT_DPI)
    width, height = page["width"] * scale, page["height"] * scale
    pdf.add_page(format=(width, height))
    if image is not None:
        pdf.image(_jpeg(to_pil(image)), x=0, y=0, w=width, h=height)
    pdf.text_mode = "INVISIBLE"
    for block in blocks_of(page):
        for par in block["paragraphs"]:
            for line in par["lines"]:
                for word in words_of(line):
                    _word(pdf, word, scale)
    pdf.text_mode = "FILL"


def render(response: dict[str, Any], page_images: Sequence[Any] = ()) -> tuple[bytes, str]:
    if not FONT.exists():
        raise FileNotFoundError(f"{FONT} is missing: install fonts-dejavu-core (scripts/setup_doclayout.sh)")
    pdf = FPDF(unit="pt")
    pdf.set_creator("ocrserve")
    pdf.set_margin(0)
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVuSans", "", str(FONT))
    pdf.set_font("DejaVuSans")
    images = list(page_images) + [None] * (len(response["pages"]) - len(page_images))
    for page, image in zip(response["pages"], images):
        _page(pdf, page, image)
    return bytes(pdf.output()), "application/pdf"
