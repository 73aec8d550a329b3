"""Parse each rendered format back and compare it with the JSON response it came from.

Shared by the pure format tests and the gateway tests: what a consumer of the format (an hOCR
tool, an ALTO reader, a PDF viewer's search and copy) would see.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pypdfium2 as pdfium

from service.gateway.formats.geometry import blocks_of, rect, words_of

XHTML = "{http://www.w3.org/1999/xhtml}"
ALTO = "{http://www.loc.gov/standards/alto/ns-v4#}"


def response_words(response: dict) -> list[list[dict]]:
    """Per page, the words in the layout's reading order."""
    return [[w for b in blocks_of(p) for par in b["paragraphs"] for ln in par["lines"] for w in words_of(ln)]
            for p in response["pages"]]


def _props(title: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in title.split(";") if part.strip()}


def check_hocr(body: bytes, response: dict) -> None:
    """hOCR 1.2: the class hierarchy, integer bboxes, x_wconf 0-100, the words and their boxes."""
    root = ET.fromstring(body)
    assert root.tag == f"{XHTML}html"
    capabilities = root.find(f".//{XHTML}meta[@name='ocr-capabilities']").get("content").split()
    expected = response_words(response)
    pages = root.findall(f".//{XHTML}div[@class='ocr_page']")
    assert len(pages) == len(response["pages"])
    for page_el, page, words in zip(pages, response["pages"], expected):
        assert _props(page_el.get("title"))["bbox"] == ["0", "0", str(page["width"]), str(page["height"])]
        found = []
        for area in page_el:
            assert area.get("class") == "ocr_carea"
            for par in area:
                assert par.tag == f"{XHTML}p" and par.get("class") == "ocr_par"
                for line in par:
                    assert line.get("class") == "ocr_line" and len(_props(line.get("title"))["bbox"]) == 4
                    found.extend(line)
        assert all(el.get("class") == "ocrx_word" for el in found)
        assert {"ocr_page", "ocr_carea", "ocr_par", "ocr_line", "ocrx_word"} <= set(capabilities)
        assert [el.text for el in found] == [w["text"] for w in words]
        for el, word in zip(found, words):
            props = _props(el.get("title"))
            assert tuple(int(v) for v in props["bbox"]) == rect(word["box"])
            assert int(props["x_wconf"][0]) == round(100 * word["text_score"])
            assert 0 <= int(props["x_wconf"][0]) <= 100


def check_alto(body: bytes, response: dict) -> None:
    """ALTO v4 structure: namespace, element order, required attributes, words, WC in 0..1 (structural:
    no package on PyPI or Debian ships the ALTO 4 XSD to validate against, README "Documents")."""
    root = ET.fromstring(body)
    assert root.tag == f"{ALTO}alto"
    assert [c.tag for c in root] == [f"{ALTO}Description", f"{ALTO}Tags", f"{ALTO}Layout"]
    assert root.find(f"{ALTO}Description/{ALTO}MeasurementUnit").text == "pixel"
    pages = root.findall(f"{ALTO}Layout/{ALTO}Page")
    assert len(pages) == len(response["pages"])
    for page_el, page, words in zip(pages, response["pages"], response_words(response)):
        assert page_el.get("ID") and page_el.get("PHYSICAL_IMG_NR") == str(page["page"])
        assert (page_el.get("WIDTH"), page_el.get("HEIGHT")) == (str(page["width"]), str(page["height"]))
        [space] = list(page_el)
        assert space.tag == f"{ALTO}PrintSpace"
        strings = []
        for composed in space:
            assert composed.tag == f"{ALTO}ComposedBlock"
            for block in composed:
                assert block.tag == f"{ALTO}TextBlock"
                for line in block:
                    assert line.tag == f"{ALTO}TextLine"
                    tags = [c.tag for c in line]
                    assert tags[0] == f"{ALTO}String" and set(tags) <= {f"{ALTO}String", f"{ALTO}SP"}
                    strings.extend(c for c in line if c.tag == f"{ALTO}String")
                for el in (composed, block, *block):
                    assert el.get("ID")
                    assert all(re.fullmatch(r"\d+", el.get(a)) for a in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
        assert [s.get("CONTENT") for s in strings] == [w["text"] for w in words]
        for el, word in zip(strings, words):
            x0, y0, x1, y1 = rect(word["box"])
            assert (int(el.get("HPOS")), int(el.get("VPOS")), int(el.get("WIDTH")), int(el.get("HEIGHT"))) \
                == (x0, y0, x1 - x0, y1 - y0)
            assert 0 <= float(el.get("WC")) <= 1 and abs(float(el.get("WC")) - word["text_score"]) < 1e-3
    ids = [el.get("ID") for el in root.iter() if el.get("ID")]
    assert len(ids) == len(set(ids))


def check_pdf(body: bytes, response: dict, tolerance_pt: float = 2.0) -> None:
    """Extract the text layer with pypdfium2: the same words, each on its box (within `tolerance_pt`)."""
    doc = pdfium.PdfDocument(body)
    try:
        assert len(doc) == len(response["pages"])
        for index, (page, words) in enumerate(zip(response["pages"], response_words(response))):
            pdf_page = doc[index]
            width_pt, height_pt = pdf_page.get_size()
            scale = width_pt / page["width"]
            assert abs(height_pt - page["height"] * scale) < 0.5
            text_page = pdf_page.get_textpage()
            chars = [(text_page.get_text_range(i, 1), text_page.get_charbox(i, loose=True))
                     for i in range(text_page.count_chars())]
            chars = [(c, box) for c, box in chars if c.strip()]
            assert "".join(c for c, _ in chars) == "".join("".join(w["text"].split()) for w in words)
            at = 0
            for word in words:
                n = len("".join(word["text"].split()))
                boxes = np.array([box for _, box in chars[at:at + n]])
                at += n
                left, bottom, right, top = boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()
                x0, y0, x1, y1 = (np.asarray(word["box"]).reshape(-1, 2).min(0).tolist()
                                  + np.asarray(word["box"]).reshape(-1, 2).max(0).tolist())
                expected = (x0 * scale, height_pt - y1 * scale, x1 * scale, height_pt - y0 * scale)
                assert np.abs(np.subtract((left, bottom, right, top), expected)).max() <= tolerance_pt, \
                    (word, (left, bottom, right, top), expected)
    finally:
        doc.close()
