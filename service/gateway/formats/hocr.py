"""hOCR 1.2 (XHTML): ocr_page > ocr_carea > ocr_par > ocr_line > ocrx_word, each with `bbox`
(integer pixels) and, for lines and words, `x_wconf` (confidence 0-100)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Sequence

from service.gateway.formats.geometry import blocks_of, rect, words_of

XHTML = "http://www.w3.org/1999/xhtml"
CAPABILITIES = "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf"
DOCTYPE = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
           '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n')


def _title(box, score: float | None = None, extra: str = "") -> str:
    x0, y0, x1, y1 = rect(box) if len(box) != 4 else box
    title = f"bbox {x0} {y0} {x1} {y1}{extra}"
    return title if score is None else f"{title}; x_wconf {round(100 * score)}"


def _element(parent: ET.Element, tag: str, cls: str, ident: str, title: str) -> ET.Element:
    return ET.SubElement(parent, tag, {"class": cls, "id": ident, "title": title})


def _page(body: ET.Element, page: dict[str, Any]) -> None:
    n = page["page"]
    div = _element(body, "div", "ocr_page", f"page_{n}", _title((0, 0, page["width"], page["height"]),
                                                                   extra=f"; ppageno {n - 1}"))
    ids = {"block": 0, "par": 0, "line": 0, "word": 0}

    def next_id(kind: str) -> str:
        ids[kind] += 1
        return f"{kind}_{n}_{ids[kind]}"

    for block in blocks_of(page):
        area = _element(div, "div", "ocr_carea", next_id("block"), _title(block["box"]))
        for par in block["paragraphs"]:
            p = _element(area, "p", "ocr_par", next_id("par"), _title(par["box"]))
            for line in par["lines"]:
                span = _element(p, "span", "ocr_line", next_id("line"), _title(line["box"], line.get("text_score")))
                for word in words_of(line):
                    w = _element(span, "span", "ocrx_word", next_id("word"), _title(word["box"], word["text_score"]))
                    w.text = word["text"]
                    w.tail = " "


def render(response: dict[str, Any], page_images: Sequence[Any] = ()) -> tuple[bytes, str]:
    html = ET.Element("html", {"xmlns": XHTML, "xml:lang": "en", "lang": "en"})
    head = ET.SubElement(html, "head")
    ET.SubElement(head, "title").text = "ocrserve"
    ET.SubElement(head, "meta", {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"})
    ET.SubElement(head, "meta", {"name": "ocr-system", "content": "ocrserve"})
    ET.SubElement(head, "meta", {"name": "ocr-capabilities", "content": CAPABILITIES})
    body = ET.SubElement(html, "body")
    for page in response["pages"]:
        _page(body, page)
    xml = ET.tostring(html, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + DOCTYPE + xml + "\n").encode(), "application/xhtml+xml"
