"""Uploaded bytes -> the pages of a document: PDF (pypdfium2), multi-frame TIFF, or one image.

Conventions:
  * pages are numbered from 1, as people and `pages=1-3,7` count them;
  * the kind is sniffed from the bytes (`%PDF-` header, TIFF byte-order mark), never trusted
    from the content type; a body *declared* application/pdf that is not one is a 400;
  * every limit is checked before pixels are allocated: the page count (OCRSERVE_MAX_PAGES,
    413) on the selected pages, and the pixel limit on each page at the requested dpi (413);
  * PDFium is not thread-safe: every call into it holds one process-wide lock, and a document
    refuses work once closed, so a cancelled request cannot render from freed memory;
  * nothing is written to disk: PDFium reads the bytes from memory.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from handlers.ops.image_io import decode_frame, probe_image
from service.gateway.errors import BadDocument, BadOptions, EncryptedDocument, PayloadTooLarge
from service.gateway.pdf_text import TextLayer, read_text_layer
from service.gateway.uploads import decode_upload, image_errors

PDF, TIFF, IMAGE = "pdf", "tiff", "image"
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
# PDFium itself accepts a header anywhere in the first 1 KiB; so do we.
_HEADER_WINDOW = 1024
# Writers may leave a little junk (a newline, a NUL padding) after the final %%EOF.
_EOF_WINDOW = 1024
_PDFIUM = threading.Lock()
_LOAD_ERRORS = {
    pdfium_c.FPDF_ERR_PASSWORD: (EncryptedDocument, "the PDF is encrypted with a password; "
                                 "send it without the password protection"),
    pdfium_c.FPDF_ERR_SECURITY: (EncryptedDocument, "the PDF uses an unsupported security handler"),
    pdfium_c.FPDF_ERR_FORMAT: (BadDocument, "the PDF is corrupt (not in PDF format or damaged)"),
    pdfium_c.FPDF_ERR_FILE: (BadDocument, "the PDF could not be read (file error)"),
}


@dataclass(frozen=True)
class PageImage:
    """One page ready for OCR; `scale` maps PDF points to its pixels (1.0 for images)."""

    number: int
    image: np.ndarray
    scale: float = 1.0


def sniff(data: bytes, content_type: str = "") -> str:
    """The document kind of uploaded bytes; 400 when a declared PDF is not one."""
    if b"%PDF-" in data[:_HEADER_WINDOW]:
        return PDF
    if content_type.lower().split(";")[0].strip() == "application/pdf":
        raise BadDocument(f"the upload is declared application/pdf but is not a PDF (no %PDF- header in "
                          f"its first {_HEADER_WINDOW} bytes; it starts with {bytes(data[:16])!r})")
    return TIFF if data[:4] in _TIFF_MAGIC else IMAGE


def parse_pages(spec: str | None, count: int) -> list[int]:
    """`1-3,7` (also `5-`, to the end) -> sorted, unique 1-based page numbers; None -> all."""
    if spec is None or not spec.strip():
        return list(range(1, count + 1))
    chosen: set[int] = set()
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            lo = int(first)
            hi = (int(last) if last.strip() else count) if dash else lo
        except ValueError:
            raise BadOptions(f"pages: {part.strip()!r} is not a page number or range like 1-3,7") from None
        if lo < 1 or hi < lo:
            raise BadOptions(f"pages: {part.strip()!r} is not a valid range (pages count from 1)")
        if hi > count:
            raise BadOptions(f"pages: page {hi} is out of range: the document has {count} page(s)")
        chosen.update(range(lo, hi + 1))
    return sorted(chosen)


def check_page_count(selected: int, total: int, max_pages: int) -> None:
    """413 when more pages are selected than OCRSERVE_MAX_PAGES allows."""
    if selected > max_pages:
        of = f" of {total}" if selected != total else ""
        raise PayloadTooLarge(f"{selected}{of} pages selected, over the limit of {max_pages} pages per request "
                              "(OCRSERVE_MAX_PAGES); choose fewer with pages=, e.g. pages=1-"
                              f"{max_pages}")


class Document:
    """An opened upload: `count` pages, each rendered or decoded on demand; close() when done."""

    def __init__(self, data: bytes, kind: str, max_pixels: int):
        self.data, self.kind, self.max_pixels = data, kind, max_pixels
        self._pdf: pdfium.PdfDocument | None = None
        self._closed = False
        if kind == PDF:
            self._pdf = _open_pdf(data)
            self.count = len(self._pdf)
        elif kind == TIFF:
            self.count = _frame_count(data)
        else:
            self.count = 1

    def page(self, number: int, dpi: float) -> PageImage:
        """Page `number` (1-based) as BGR pixels; PDFs rendered at `dpi`."""
        if self.kind == PDF:
            return self._render(number, dpi)
        if self.kind == TIFF and self.count > 1:
            return PageImage(number, _translated(decode_frame, self.data, number - 1, self.max_pixels))
        return PageImage(number, decode_upload(self.data, self.max_pixels))

    def text_layer(self, number: int, size: tuple[int, int]) -> TextLayer:
        """The PDF's own text of a page, boxes in the pixels of the page rendered at `size`."""
        if self.kind != PDF:
            return TextLayer([], 0, 0, 0.0)
        with _PDFIUM:
            page = self._open_page(number)
            try:
                return read_text_layer(page, size)
            except pdfium.PdfiumError as exc:
                raise BadDocument(f"page {number}: its text layer could not be read ({exc})") from None
            finally:
                page.close()

    def close(self) -> None:
        with _PDFIUM:
            self._closed = True
            if self._pdf is not None:
                self._pdf.close()
                self._pdf = None

    def _open_page(self, number: int) -> pdfium.PdfPage:
        if self._closed or self._pdf is None:
            raise BadDocument("the document was closed before this page was read")
        try:
            return self._pdf[number - 1]
        except pdfium.PdfiumError as exc:
            raise BadDocument(f"page {number} of the PDF could not be loaded ({exc})") from None

    def _render(self, number: int, dpi: float) -> PageImage:
        scale = dpi / 72.0
        with _PDFIUM:
            page = self._open_page(number)
            try:
                width_pt, height_pt = page.get_size()
                _check_page_pixels(number, width_pt, height_pt, dpi, self.max_pixels)
                bitmap = page.render(scale=scale)
                try:
                    image = np.array(bitmap.to_numpy()[:, :, :3])  # a copy: the bitmap's memory is freed
                finally:
                    bitmap.close()
            except pdfium.PdfiumError as exc:
                raise BadDocument(f"page {number} of the PDF could not be rendered ({exc})") from None
            finally:
                page.close()
        return PageImage(number, image, scale)


def open_document(data: bytes, content_type: str, max_pixels: int) -> Document:
    """Sniff and open an upload; raises the gateway's 4xx errors for unusable documents."""
    return Document(data, sniff(data, content_type), max_pixels)


def _open_pdf(data: bytes) -> pdfium.PdfDocument:
    # PDFium repairs a cut-off file silently (it rebuilds the cross-reference table), so a
    # truncated upload would come back with pages missing and no word of it: refuse it.
    if b"%%EOF" not in data[-_EOF_WINDOW:]:
        raise BadDocument("the PDF is truncated: it does not end with an %%EOF marker")
    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            error, message = _LOAD_ERRORS.get(exc.err_code, (BadDocument, "the PDF could not be opened"))
            raise error(f"{message} (PDFium: {exc})") from None
        if len(pdf) == 0:
            pdf.close()
            raise BadDocument("the PDF has no pages")
    return pdf


def _check_page_pixels(number: int, width_pt: float, height_pt: float, dpi: float, max_pixels: int) -> None:
    width, height = math.ceil(width_pt * dpi / 72), math.ceil(height_pt * dpi / 72)
    if width <= 0 or height <= 0:
        raise BadDocument(f"page {number} has no area ({width_pt:g} x {height_pt:g} points)")
    if width * height > max_pixels:
        raise PayloadTooLarge(f"page {number} is {width_pt:g} x {height_pt:g} points = {width}x{height} pixels "
                              f"at {dpi:g} dpi ({width * height / 1e6:.1f} megapixels), over the limit of "
                              f"{max_pixels / 1e6:.1f} megapixels per page; lower dpi=")


def _frame_count(data: bytes) -> int:
    with image_errors(BadDocument):
        return max(1, probe_image(data).frames)


def _translated(fn, *args) -> np.ndarray:
    with image_errors(BadDocument, f"page {args[1] + 1}: "):
        return fn(*args)
