"""Document input without models: sniffing, page selection, limits, hostile files, text layer, turning."""
from __future__ import annotations

import numpy as np
import pytest

from handlers.ops.image_io import DEFAULT_MAX_PIXELS as MAX_PIXELS
from service.gateway.documents import PDF, TIFF, IMAGE, check_page_count, open_document, parse_pages, sniff
from service.gateway.errors import BadDocument, BadOptions, EncryptedDocument, PayloadTooLarge
from handlers.api.results import Orientation
from service.gateway.orientation import is_sideways, pieces, turn, turn_rows, upside_down, vote_rows
from tests.document_files import empty_pages_pdf, encrypted_pdf, image_pdf, nested_pdf, text_pdf, tiff

LINES = ["Invoice number 4711 dated", "Total due 12.50 EUR"]


def _ink(image: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(image.min(axis=2) < 128)
    return xs.min(), ys.min(), xs.max(), ys.max()


def test_kind_is_sniffed_from_the_bytes_not_the_content_type():
    assert sniff(b"%PDF-1.7\n...", "application/octet-stream") == PDF
    assert sniff(b"\n\n%PDF-1.4", "image/png") == PDF  # PDFium allows a header within 1 KiB
    assert sniff(b"II*\x00rest", "") == TIFF and sniff(b"MM\x00*rest", "") == TIFF
    assert sniff(b"\x89PNG\r\n", "image/png") == IMAGE
    with pytest.raises(BadDocument, match="declared application/pdf but is not a PDF"):
        sniff(b"\x89PNG\r\n\x1a\n", "application/pdf; charset=binary")


@pytest.mark.parametrize("spec, count, pages", [
    (None, 3, [1, 2, 3]), ("", 2, [1, 2]), ("2", 5, [2]), ("1-3,7", 9, [1, 2, 3, 7]),
    ("7, 1-2, 2", 9, [1, 2, 7]), ("4-", 6, [4, 5, 6]), ("3-3", 3, [3]),
])
def test_page_selection(spec, count, pages):
    assert parse_pages(spec, count) == pages


@pytest.mark.parametrize("spec, message", [
    ("0", "count from 1"), ("3-1", "not a valid range"), ("a-b", "not a page number"), ("1,,2", "not a page"),
    ("9", "page 9 is out of range: the document has 5"), ("2-6", "page 6 is out of range"),
])
def test_bad_page_selection_is_a_422_naming_the_problem(spec, message):
    with pytest.raises(BadOptions, match=message):
        parse_pages(spec, 5)


def test_page_limit_names_the_limit():
    check_page_count(200, 10_000, 200)
    with pytest.raises(PayloadTooLarge, match="201 of 10000 pages selected, over the limit of 200 pages") as err:
        check_page_count(201, 10_000, 200)
    assert err.value.status == 413


def test_ten_thousand_empty_pages_open_fast_and_hit_the_page_limit():
    doc = open_document(empty_pages_pdf(10_000), "application/pdf", MAX_PIXELS)
    try:
        assert doc.count == 10_000
        with pytest.raises(PayloadTooLarge, match="over the limit of 200 pages"):
            check_page_count(len(parse_pages(None, doc.count)), doc.count, 200)
        assert doc.page(9_999, 72).image.shape == (792, 612, 3)  # one chosen page still renders
    finally:
        doc.close()


def test_giant_page_is_refused_before_rendering_with_the_pixel_limit():
    doc = open_document(empty_pages_pdf(1, (20_000, 20_000)), "application/pdf", MAX_PIXELS)
    try:
        with pytest.raises(PayloadTooLarge, match=r"20000 x 20000 points .* over the limit of 40.0 megapixels"):
            doc.page(1, 200)
    finally:
        doc.close()


def test_deeply_nested_pdf_opens_and_renders_without_crashing():
    doc = open_document(nested_pdf(100_000), "application/pdf", MAX_PIXELS)
    try:
        assert doc.count == 1 and doc.page(1, 72).image.shape == (792, 612, 3)
    finally:
        doc.close()


def test_encrypted_truncated_and_corrupt_pdfs():
    good = text_pdf([LINES])
    with pytest.raises(EncryptedDocument, match="encrypted with a password") as err:
        open_document(encrypted_pdf(good), "application/pdf", MAX_PIXELS)
    assert err.value.status == 422
    with pytest.raises(BadDocument, match="truncated"):
        open_document(good[: len(good) // 2], "application/pdf", MAX_PIXELS)
    garbage = b"%PDF-1.7\n" + bytes(range(256)) * 20 + b"\n%%EOF\n"
    with pytest.raises(BadDocument, match="could not be opened|corrupt") as err:
        open_document(garbage, "application/pdf", MAX_PIXELS)
    assert err.value.status == 400


def test_every_tiff_frame_is_a_page_in_order_with_its_own_size():
    frames = [np.full((30 + 10 * i, 40, 3), 50 * i, np.uint8) for i in range(4)]
    doc = open_document(tiff(frames), "image/tiff", MAX_PIXELS)
    assert doc.kind == TIFF and doc.count == 4
    for number, frame in enumerate(frames, start=1):
        np.testing.assert_array_equal(doc.page(number, 200).image, frame)


def test_500_frame_tiff_is_counted_and_limited():
    doc = open_document(tiff([np.zeros((8, 8, 3), np.uint8)] * 500), "image/tiff", MAX_PIXELS)
    assert doc.count == 500
    with pytest.raises(PayloadTooLarge, match="500 pages selected, over the limit of 200"):
        check_page_count(doc.count, doc.count, 200)
    with pytest.raises(PayloadTooLarge, match="page 500: image is 8x8"):
        open_document(tiff([np.zeros((8, 8, 3), np.uint8)] * 500), "", 50).page(500, 200)


def test_text_layer_words_sit_on_the_rendered_ink():
    data = text_pdf([LINES, ["Second page"]], size=11)
    doc = open_document(data, "application/pdf", MAX_PIXELS)
    try:
        page = doc.page(1, 200)
        height, width = page.image.shape[:2]
        assert (width, height) == (1700, 2200)  # US letter at 200 dpi
        layer = doc.text_layer(1, (width, height))
        assert [line.text for line in layer.lines] == LINES and layer.usable()
        assert [w.text for w in layer.lines[0].words] == LINES[0].split()
        x0, y0, x1, y1 = _ink(page.image)
        boxes = np.array([line.box for line in layer.lines])
        # glyph boxes are tight to the ink: within 3 px at 200 dpi (a wrong scale or flipped y is 100s off)
        assert abs(boxes[:, 0::2].min() - x0) <= 3 and abs(boxes[:, 0::2].max() - x1) <= 3
        assert abs(boxes[:, 1::2].min() - y0) <= 3 and abs(boxes[:, 1::2].max() - y1) <= 3
        assert [line.text for line in doc.text_layer(2, (width, height)).lines] == ["Second page"]
    finally:
        doc.close()


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_text_layer_follows_the_page_rotation_key(rotate):
    """/Rotate turns the rendered page; the words must land where the rendered ink is."""
    doc = open_document(text_pdf([LINES], size=11, rotate=rotate), "application/pdf", MAX_PIXELS)
    try:
        page = doc.page(1, 100)
        height, width = page.image.shape[:2]
        assert (width, height) == ((850, 1100) if rotate == 180 else (1100, 850))
        boxes = np.array([line.box for line in doc.text_layer(1, (width, height)).lines])
        x0, y0, x1, y1 = _ink(page.image)
        assert abs(boxes[:, 0::2].min() - x0) <= 3 and abs(boxes[:, 0::2].max() - x1) <= 3
        assert abs(boxes[:, 1::2].min() - y0) <= 3 and abs(boxes[:, 1::2].max() - y1) <= 3
    finally:
        doc.close()


def test_scanned_page_has_no_usable_text_layer():
    scan = np.full((400, 300, 3), 255, np.uint8)
    scan[100:120, 50:250] = 0
    doc = open_document(image_pdf([scan], dpi=100), "application/pdf", MAX_PIXELS)
    try:
        layer = doc.text_layer(1, (300, 400))
        assert layer.chars == 0 and layer.image_cover > 0.9 and not layer.usable()
    finally:
        doc.close()


def test_closed_document_refuses_to_render():
    doc = open_document(text_pdf([LINES]), "application/pdf", MAX_PIXELS)
    doc.close()
    with pytest.raises(BadDocument, match="closed"):
        doc.page(1, 72)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_turned_boxes_follow_the_turned_pixels(rotation):
    image = np.full((60, 100, 3), 255, np.uint8)
    image[10:20, 30:80] = 0  # a 'line' 50 wide, 10 high
    row = [30, 10, 80, 10, 80, 20, 30, 20, 0.9]
    (turned_row,) = turn_rows([row], rotation, (100, 60))
    assert turned_row[-1] == 0.9
    xs, ys = turned_row[0:8:2], turned_row[1:8:2]
    x0, y0, x1, y1 = _ink(turn(image, rotation))
    assert (min(xs), min(ys), max(xs) - 1, max(ys) - 1) == (x0, y0, x1, y1)
    assert is_sideways([turned_row]) == (rotation in (90, 270))


def test_line_geometry_votes_by_length_and_ignores_squares():
    horizontal = [0, 0, 300, 0, 300, 20, 0, 20, 1.0]
    vertical = [0, 0, 20, 0, 20, 200, 0, 200, 1.0]
    square = [0, 0, 900, 0, 900, 900, 0, 900, 1.0]
    assert not is_sideways([horizontal, vertical]) and is_sideways([vertical, vertical, horizontal])
    assert not is_sideways([square]) and not is_sideways([])
    assert vote_rows([square, vertical, horizontal], limit=1) == [1 + 1]


def test_upside_down_is_a_weighted_majority():
    turns = [Orientation("180", 0.99, True), Orientation("0", 0.8, False)]
    assert upside_down(turns, [300, 100]) and not upside_down(turns, [100, 300])
    assert not upside_down([], [])


def test_long_lines_are_cut_into_unsqueezed_pieces():
    line = np.arange(20 * 500 * 3, dtype=np.uint32).reshape(20, 500, 3).astype(np.uint8)
    parts = pieces(line, ratio=4, limit=4)
    assert [p.shape for p in parts] == [(20, 80, 3)] * 4
    np.testing.assert_array_equal(parts[0], line[:, :80])
    np.testing.assert_array_equal(parts[-1], line[:, -80:])
    assert len(pieces(line[:, :100], ratio=4, limit=4)) == 1  # just one piece fits
    assert pieces(line[:, :60])[0].shape == (20, 60, 3)
