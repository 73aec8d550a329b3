"""A PDF page's own text layer (born-digital pages) as lines of words with pixel boxes.

Read with PDFium's text page API (pypdfium2): characters come in content order, PDFium inserts
a generated line break between the lines it finds, and each character has a box in PDF points.
Boxes are mapped to the pixels of the page rendered at the request's dpi with PDFium's own
page-to-device transform, so /Rotate and the crop box are handled the way rendering handles them.
Callers hold the PDFium lock (service.gateway.documents).
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

# `auto` trusts a text layer with at least this many characters, nearly all mapped to Unicode
# (fonts without a ToUnicode map give U+FFFD or 0), on a page that is not mainly one picture
# (a scan with an invisible OCR layer is read again by our own OCR).
MIN_CHARS = 8
MAX_UNMAPPED = 0.1
MAX_IMAGE_COVER = 0.5
_UNMAPPED = {0, 0xFFFD, 0xFFFE}
_LINE_BREAKS = {0x0A, 0x0D}


@dataclass
class TextWord:
    text: str
    box: list[float]  # x1, y1, ..., x4, y4 in page pixels, clockwise from top-left


@dataclass
class TextLine:
    words: list[TextWord] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def box(self) -> list[float]:
        xs = [v for w in self.words for v in w.box[0::2]]
        ys = [v for w in self.words for v in w.box[1::2]]
        return _quad(min(xs), min(ys), max(xs), max(ys))


@dataclass
class TextLayer:
    lines: list[TextLine]
    chars: int  # non-space characters
    unmapped: int  # of those, without a Unicode value
    image_cover: float  # largest image's share of the page area

    def usable(self) -> bool:
        """Whether `text_layer=auto` takes this layer instead of running OCR."""
        return (self.chars >= MIN_CHARS and self.unmapped <= MAX_UNMAPPED * self.chars
                and self.image_cover <= MAX_IMAGE_COVER)


def read_text_layer(page: pdfium.PdfPage, size: tuple[int, int]) -> TextLayer:
    """The page's text as lines of words; `size` is the rendered page's (width, height) in pixels."""
    textpage = page.get_textpage()
    try:
        lines, chars, unmapped = _lines(page, textpage, size)
    finally:
        textpage.close()
    return TextLayer([line for line in lines if line.words], chars, unmapped, _image_cover(page))


def _lines(page: pdfium.PdfPage, textpage: pdfium.PdfTextPage,
           size: tuple[int, int]) -> tuple[list[TextLine], int, int]:
    lines, word_chars, word_boxes = [TextLine()], [], []
    chars = unmapped = 0

    def end_word() -> None:
        if word_chars:
            boxes = [_to_pixels(page, box, size) for box in word_boxes]
            xs, ys = [b[0] for b in boxes] + [b[2] for b in boxes], [b[1] for b in boxes] + [b[3] for b in boxes]
            lines[-1].words.append(TextWord("".join(word_chars), _quad(min(xs), min(ys), max(xs), max(ys))))
            word_chars.clear()
            word_boxes.clear()

    for index in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(textpage, index)
        if code in _LINE_BREAKS:
            end_word()
            if lines[-1].words:
                lines.append(TextLine())
            continue
        char = chr(code) if 0 < code < 0x110000 and code not in _UNMAPPED else "\ufffd"
        if char.isspace() or (code < 32 and code not in _UNMAPPED):
            end_word()
            continue
        chars += 1
        unmapped += code in _UNMAPPED
        word_chars.append(char)
        word_boxes.append(textpage.get_charbox(index))
    end_word()
    return lines, chars, unmapped


def _to_pixels(page: pdfium.PdfPage, box: tuple[float, float, float, float],
               size: tuple[int, int]) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) in points -> (x0, y0, x1, y1) pixels of the rendered page."""
    left, bottom, right, top = box
    corners = [_device(page, x, y, size) for x, y in ((left, bottom), (right, top))]
    (ax, ay), (bx, by) = corners
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


def _device(page: pdfium.PdfPage, x: float, y: float, size: tuple[int, int]) -> tuple[int, int]:
    dx, dy = ctypes.c_int(), ctypes.c_int()
    pdfium_c.FPDF_PageToDevice(page, 0, 0, size[0], size[1], 0, x, y, ctypes.byref(dx), ctypes.byref(dy))
    return dx.value, dy.value


def _image_cover(page: pdfium.PdfPage) -> float:
    width, height = page.get_size()
    area = max(width * height, 1e-6)
    largest = 0.0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=4):
        left, bottom, right, top = obj.get_bounds()
        largest = max(largest, max(0.0, right - left) * max(0.0, top - bottom))
    return min(1.0, largest / area)


def _quad(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    return [float(x0), float(y0), float(x1), float(y0), float(x1), float(y1), float(x0), float(y1)]
