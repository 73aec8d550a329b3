"""service.gateway.visualize: what lands on which pixels, pinned on small synthetic pages (drawing, not OCR quality)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from service.gateway.visualize import (LINE_RGB, WORD_RGB, VisOptions, draw_page, find_font_path, label_colour,
                               render_png, to_pil)

BOX = [20.0, 30.0, 180.0, 30.0, 180.0, 70.0, 20.0, 70.0]
WORD = [30.0, 35.0, 90.0, 35.0, 90.0, 65.0, 30.0, 65.0]
NONE = VisOptions(text="none")


def _white(w=200, h=100) -> Image.Image:
    return Image.new("RGB", (w, h), "white")


def _page(**line) -> dict:
    return {"page": 1, "width": 200, "height": 100, "result": [{"box": BOX, "box_score": 0.9, **line}]}


def test_line_outline_and_word_box_are_drawn_where_the_boxes_are():
    out = np.asarray(draw_page(_white(), _page(text="hello", words=[{"box": WORD, "text": "hello",
                                                                        "text_score": 0.9}]), NONE))
    assert tuple(out[30, 100]) == LINE_RGB  # top edge of the line
    assert tuple(out[50, 30]) == WORD_RGB  # left edge of the word
    assert tuple(out[50, 130]) == (255, 255, 255)  # inside the line, outside the word: untouched
    assert tuple(out[10, 100]) == (255, 255, 255)


def test_words_and_lines_can_be_switched_off():
    page = _page(text="hello", words=[{"box": WORD, "text": "hello", "text_score": 0.9}])
    out = np.asarray(draw_page(_white(), page, VisOptions(text="none", words=False, lines=False)))
    assert (out == 255).all()


def test_a_kie_label_colours_the_outline_and_tints_the_inside():
    out = np.asarray(draw_page(_white(), _page(text="Total", label="Total_key", label_score=0.8), NONE))
    colour = label_colour("Total_key")
    assert tuple(out[30, 100]) == colour
    inside = out[50, 130].astype(int)
    assert (inside < 255).any() and np.argmin(inside) == np.argmin(colour)  # tinted towards the class colour


def test_key_and_value_of_a_field_share_a_hue_and_others_are_grey():
    import colorsys

    key, value = (colorsys.rgb_to_hsv(*(c / 255 for c in label_colour(n))) for n in ("Total_key", "Total_value"))
    assert abs(key[0] - value[0]) < 0.01 and key[1] < value[1]
    assert label_colour("Total_value") != label_colour("Date_value")
    assert label_colour("Others") == label_colour("Ignore") == (150, 150, 150)


def test_a_pair_is_an_arrow_from_the_key_to_the_value():
    key = {"box": [10, 10, 50, 10, 50, 30, 10, 30], "box_score": 1, "text": "Total", "label": "Total_key"}
    value = {"box": [150, 70, 190, 70, 190, 90, 150, 90], "box_score": 1, "text": "9.99", "label": "Total_value"}
    page = {"result": [key, value], "pairs": [{"from": 0, "to": 1, "score": 0.9}]}
    out = np.asarray(draw_page(_white(), page, NONE))
    assert tuple(out[50, 100]) == label_colour("Total_key")  # the midpoint of the two centres (30,20)-(170,80)
    bare = np.asarray(draw_page(_white(), page, VisOptions(text="none", pairs=False)))
    assert tuple(bare[50, 100]) == (255, 255, 255)


def test_side_text_doubles_the_width_and_writes_inside_the_mirrored_box():
    out = np.asarray(draw_page(_white(), _page(text="HELLO"), VisOptions(text="side")))
    assert out.shape == (100, 400, 3)
    inside = out[33:68, 223:378]  # the box on the right-hand page, inside its outline
    assert (inside.min(axis=2) < 100).mean() > 0.05  # dark glyph pixels
    assert (out[80:, 200:] == 255).all()  # nothing below the box


def test_over_text_writes_above_the_box_only():
    out = np.asarray(draw_page(_white(), _page(text="HELLO"), VisOptions(text="over")))
    assert out.shape == (100, 200, 3)
    assert (out[5:29, 20:120].min(axis=2) < 100).any()  # caption above the top edge
    plain = np.asarray(draw_page(_white(), _page(text="HELLO"), NONE))
    assert (plain[5:29, 20:120] == 255).all()


def test_numpy_input_is_bgr_and_the_png_decodes_to_the_drawing():
    bgr = np.zeros((100, 200, 3), np.uint8)
    bgr[:, :, 2] = 255  # red in OpenCV's order
    assert to_pil(bgr).getpixel((0, 0)) == (255, 0, 0)
    png = render_png(bgr, _page(text="x"), NONE)
    decoded = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert decoded.shape == (100, 200, 3)
    assert tuple(decoded[0, 0]) == (255, 0, 0) and tuple(decoded[30, 100]) == LINE_RGB


def test_cjk_text_renders_distinct_glyphs_with_the_installed_font():
    path = find_font_path()
    if path is None or "dejavu" in path.lower():
        pytest.skip("no CJK font installed (scripts/setup_browser.sh installs fonts-wqy-zenhei)")
    glyphs = [np.asarray(draw_page(_white(), _page(text=t), VisOptions(text="side", lines=False)))[:, 200:]
              for t in ("中", "文")]
    assert (glyphs[0] < 128).any() and (glyphs[0] != glyphs[1]).any()  # not the same "missing glyph" box


def test_side_text_names_the_kie_class_above_the_box_in_its_colour():
    page = _page(text="9.99", label="Total_value", label_score=0.9)
    out = np.asarray(draw_page(_white(), page, VisOptions(text="side")))
    above = out[10:30, 220:380].reshape(-1, 3)
    colour = np.asarray(label_colour("Total_value"))
    assert (np.abs(above.astype(int) - colour).sum(axis=1) < 60).sum() > 10  # glyphs in the class colour
    plain = np.asarray(draw_page(_white(), _page(text="9.99"), VisOptions(text="side")))
    assert (plain[10:29, 220:380] == 255).all()
