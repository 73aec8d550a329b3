"""ALTO v4 XML: Page > PrintSpace > ComposedBlock (a layout block) > TextBlock (a paragraph) >
TextLine > String / SP. Positions in pixels (`MeasurementUnit` pixel); `WC` is the word's
confidence in 0..1; headings' TextBlocks point at a `StructureTag` labelled heading."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Sequence

from service.gateway.formats.geometry import blocks_of, rect, words_of

NS = "http://www.loc.gov/standards/alto/ns-v4#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA = "http://www.loc.gov/standards/alto/v4/alto-4-2.xsd"


def _position(box) -> dict[str, str]:
    x0, y0, x1, y1 = rect(box)
    return {"HPOS": str(x0), "VPOS": str(y0), "WIDTH": str(max(x1 - x0, 0)), "HEIGHT": str(max(y1 - y0, 0))}


def _line(parent: ET.Element, line: dict, ident: str) -> None:
    el = ET.SubElement(parent, "TextLine", {"ID": ident, **_position(line["box"])})
    words = words_of(line) or [{"box": line["box"], "text": "", "text_score": 0.0}]  # a line needs a String
    for k, word in enumerate(words):
        if k:
            prev = rect(words[k - 1]["box"])
            x0 = rect(word["box"])[0]
            ET.SubElement(el, "SP", {"HPOS": str(prev[2]), "VPOS": str(prev[1]), "WIDTH": str(max(x0 - prev[2], 0))})
        ET.SubElement(el, "String", {"ID": f"{ident}_w{k + 1}", **_position(word["box"]), "CONTENT": word["text"],
                                     "WC": f"{min(max(word['text_score'], 0.0), 1.0):.4f}"})


def _page(layout: ET.Element, page: dict[str, Any]) -> None:
    n, w, h = page["page"], page["width"], page["height"]
    el = ET.SubElement(layout, "Page", {"ID": f"page_{n}", "PHYSICAL_IMG_NR": str(n),
                                        "WIDTH": str(w), "HEIGHT": str(h)})
    space = ET.SubElement(el, "PrintSpace", {"HPOS": "0", "VPOS": "0", "WIDTH": str(w), "HEIGHT": str(h)})
    for b, block in enumerate(blocks_of(page), 1):
        composed = ET.SubElement(space, "ComposedBlock", {"ID": f"p{n}_b{b}", **_position(block["box"]),
                                                          "TYPE": block["kind"]})
        for p, par in enumerate(block["paragraphs"], 1):
            attrs = {"ID": f"p{n}_b{b}_p{p}", **_position(par["box"])}
            if par["kind"] == "heading":
                attrs["TAGREFS"] = "heading"
            text_block = ET.SubElement(composed, "TextBlock", attrs)
            for k, line in enumerate(par["lines"], 1):
                _line(text_block, line, f"p{n}_b{b}_p{p}_l{k}")


def render(response: dict[str, Any], page_images: Sequence[Any] = ()) -> tuple[bytes, str]:
    ET.register_namespace("", NS)
    ET.register_namespace("xsi", XSI)
    root = ET.Element(f"{{{NS}}}alto", {f"{{{XSI}}}schemaLocation": f"{NS} {SCHEMA}", "SCHEMAVERSION": "4.2"})
    description = ET.SubElement(root, "Description")
    ET.SubElement(description, "MeasurementUnit").text = "pixel"
    processing = ET.SubElement(description, "OCRProcessing", {"ID": "ocr"})
    step = ET.SubElement(processing, "ocrProcessingStep")
    models = response.get("models", {})
    ET.SubElement(step, "processingStepSettings").text = " ".join(f"{k}={v}" for k, v in models.items())
    ET.SubElement(ET.SubElement(step, "processingSoftware"), "softwareName").text = "ocrserve"
    tags = ET.SubElement(root, "Tags")
    ET.SubElement(tags, "StructureTag", {"ID": "heading", "LABEL": "heading"})
    layout = ET.SubElement(root, "Layout")
    for page in response["pages"]:
        _page(layout, page)
    _qualify(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n", "application/xml"


def _qualify(root: ET.Element) -> None:
    """Put every unqualified element in the ALTO namespace (written as the default namespace)."""
    for el in root.iter():
        if not el.tag.startswith("{"):
            el.tag = f"{{{NS}}}{el.tag}"
