"""Documents made at test time: PDFs (born-digital, scanned, hostile), multi-frame TIFFs.

Nothing here is committed as a binary; every file is built from code in milliseconds.
Born-digital PDFs are written with PDFium (pypdfium2, the standard Helvetica font), scanned ones
with Pillow's PDF writer, encrypted ones with pypdf; the hostile ones by `raw_pdf`, a minimal
writer with a correct cross-reference table, so PDFium reads them as written and not repaired.
"""
from __future__ import annotations

import ctypes
import io
from collections.abc import Sequence

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

LETTER = (612, 792)


def text_pdf(pages: Sequence[Sequence[str]], size: float = 11.0, margin: float = 72.0,
             page_size: tuple[float, float] = LETTER, rotate: int = 0) -> bytes:
    """A born-digital PDF: each page's lines in Helvetica `size` pt, top-left at the margin;
    `rotate` is the pages' /Rotate (viewers turn the page that much clockwise)."""
    pdf = pdfium.PdfDocument.new()
    for lines in pages:
        page = pdf.new_page(*page_size)
        for i, line in enumerate(lines):
            obj = pdfium_c.FPDFPageObj_NewTextObj(pdf, b"Helvetica", ctypes.c_float(size))
            utf16 = (line + "\x00").encode("utf-16-le")  # PDFium wants UTF-16, NUL-terminated
            buf = ctypes.create_string_buffer(utf16, len(utf16))
            pdfium_c.FPDFText_SetText(obj, ctypes.cast(buf, pdfium_c.FPDF_WIDESTRING))
            y = page_size[1] - margin - size * 1.5 * (i + 1)
            pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, margin, y)
            pdfium_c.FPDFPage_InsertObject(page, obj)
        page.gen_content()
        if rotate:
            page.set_rotation(rotate)
        page.close()
    return _saved(pdf)


def image_pdf(images: Sequence[np.ndarray], dpi: float = 200) -> bytes:
    """A 'scanned' PDF: one BGR image per page, placed at `dpi` (Pillow's PDF writer)."""
    pil = [Image.fromarray(np.ascontiguousarray(im[:, :, ::-1])) for im in images]
    buf = io.BytesIO()
    pil[0].save(buf, "PDF", save_all=True, append_images=pil[1:], resolution=dpi)
    return buf.getvalue()


def render(data: bytes, number: int = 1, dpi: float = 200) -> np.ndarray:
    """Page `number` of a PDF as BGR pixels (to make scans of born-digital pages)."""
    pdf = pdfium.PdfDocument(data)
    try:
        bitmap = pdf[number - 1].render(scale=dpi / 72)
        return np.array(bitmap.to_numpy()[:, :, :3])
    finally:
        pdf.close()


def encrypted_pdf(data: bytes, password: str = "secret") -> bytes:
    """The same PDF protected with a user password (RC4, no extra crypto package needed)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def tiff(images: Sequence[np.ndarray]) -> bytes:
    """A multi-frame TIFF, one BGR image per frame (sizes may differ)."""
    pil = [Image.fromarray(np.ascontiguousarray(im[:, :, ::-1])) for im in images]
    buf = io.BytesIO()
    pil[0].save(buf, "TIFF", save_all=True, append_images=pil[1:], compression="tiff_deflate")
    return buf.getvalue()


def raw_pdf(objects: Sequence[bytes]) -> bytes:
    """A PDF of the given objects (numbered from 1; object 1 is the catalog), with a valid xref."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def empty_pages_pdf(count: int, size: tuple[float, float] = LETTER) -> bytes:
    """`count` blank pages sharing one page dictionary body (small even for 10,000 pages)."""
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(count))
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] >>" % size
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count] + [page] * count)


def nested_pdf(depth: int = 100_000) -> bytes:
    """A 'PDF bomb': one page whose dictionary holds arrays nested `depth` deep, plus a chain of
    `depth // 100` indirect references, each pointing at the next."""
    chain = max(2, depth // 100)
    first = 4
    refs = [b"[%d 0 R]" % (first + i + 1) for i in range(chain - 1)] + [b"null"]
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Bomb " + b"[" * depth + b"]" * depth
                    + b" /Chain %d 0 R >>" % first] + refs)


def _saved(pdf: pdfium.PdfDocument) -> bytes:
    buf = io.BytesIO()
    pdf.save(buf)
    pdf.close()
    return buf.getvalue()
