"""The page at `/` in a real headless Chromium (Debian's package), driven by Playwright, against the real gateway.

Every request the browser makes is checked to stay on the gateway: a page that reached for a CDN fails.
One screenshot per run is kept under pytest's temporary directory (its path is printed).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from urllib.parse import urlparse

import pytest

from tests.conftest import data_path

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
RESULT_TIMEOUT_MS = 180_000  # one OCR run on a busy 2-core machine


def _chromium() -> str | None:
    path = os.environ.get("OCRSERVE_CHROMIUM") or next(filter(None, map(shutil.which, CHROMIUM_CANDIDATES)), None)
    return path if path and os.access(path, os.X_OK) else None


def _why_no_browser() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (requirements-dev.txt)"
    if _chromium() is None:
        return ("no Chromium on this machine: run scripts/setup_browser.sh (needs root + apt) "
                "or point OCRSERVE_CHROMIUM at a Chromium binary")
    return None


# Decided before any fixture runs, so a machine without a browser does not start TorchServe for nothing.
pytestmark = pytest.mark.skipif(_why_no_browser() is not None, reason=str(_why_no_browser()))


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, gateway):
    """A fresh tab on the gateway; fails the test if anything was requested from another host."""
    base = str(gateway.base_url).rstrip("/")
    context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 900}, accept_downloads=True)
    outside: list[str] = []

    def gate(route):
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost", "::1"):
            return route.continue_()
        outside.append(route.request.url)
        return route.abort()

    context.route("**/*", gate)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not outside, f"the page reached outside the gateway: {outside}"
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def screenshot_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("web") / "page.png"
    yield path
    if path.exists():
        print(f"\nweb page screenshot: {path}")


def _open(page):
    page.goto("/")
    page.wait_for_selector("body[data-ready='1']")


def _run(page, path, kie: str | None = None) -> dict:
    """Upload `path`, press Run, and return the /ocr answer the page received (after it drew it)."""
    page.set_input_files("#file", str(path))
    if kie:
        page.select_option("#kie", kie)
    with page.expect_response(lambda r: urlparse(r.url).path == "/ocr", timeout=RESULT_TIMEOUT_MS) as answer:
        page.click("#run")
    body = answer.value.json()
    page.wait_for_function("document.querySelector('#run').disabled === false", timeout=RESULT_TIMEOUT_MS)
    return body


def test_every_line_is_drawn_and_its_text_listed(page):
    _open(page)
    body = _run(page, data_path("mmocr", "demo", "demo_text_ocr.jpg"))
    lines = body["pages"][0]["result"]
    assert len(lines) >= 5
    assert page.locator("#canvas polygon.line").count() == len(lines)
    assert page.locator("#canvas polygon.word").count() == sum(len(line["words"]) for line in lines)
    panel = page.locator("#lines li")
    assert panel.count() == len(lines)
    assert panel.all_inner_texts() == [line["text"] for line in lines]  # reading order, as answered
    page.locator("#canvas polygon.line").nth(0).hover()
    assert f"“{lines[0]['text']}”" in page.inner_text("#info")
    assert page.inner_text("#page-label") == "Page 1 / 1"
    assert page.is_visible("#error") is False


def test_kie_labels_are_coloured_and_listed(page, gateway, screenshot_path):
    _open(page)
    options = page.locator("#kie option").all_inner_texts()
    assert "sdmgr" in options, options
    body = _run(page, data_path("mmocr", "main", "kie_toy_dataset", "wildreceipt", "1.jpeg"), kie="sdmgr")
    lines = body["pages"][0]["result"]
    labels = {line["label"] for line in lines}
    assert page.locator("#canvas polygon.line").count() == len(lines)
    assert page.locator("#canvas text.tag").count() == len(lines)  # every line carries its class name
    assert set(page.locator("#legend li").all_inner_texts()) == labels
    assert page.is_visible("#kie-panel")
    assert page.locator("#canvas line.pair").count() == len(body["pages"][0]["pairs"])
    page.screenshot(path=str(screenshot_path), full_page=True)
    assert screenshot_path.stat().st_size > 10_000


def test_a_non_image_shows_the_api_message(page, tmp_path):
    note = tmp_path / "notes.txt"
    note.write_text("these are not pixels\n")
    _open(page)
    page.click("#more summary")  # the options are built from /ocr's OpenAPI parameters, with their ranges
    threshold = page.locator("#options input[name='mask_thr']")
    assert (threshold.get_attribute("min"), threshold.get_attribute("max")) == ("0", "1")
    assert page.locator("#options select[name='cls'] option").all_inner_texts() == ["default", "yes", "no"]
    from service.gateway.visualize import label_colour  # the page and the PNG colour a class alike

    for label in ("Total_key", "Total_value", "Store_name_value", "Others"):
        assert page.evaluate(f"labelColour('{label}')") == "rgb({},{},{})".format(*label_colour(label))
    page.set_input_files("#file", str(note))
    with page.expect_response(lambda r: urlparse(r.url).path == "/ocr") as answer:
        page.click("#run")
    response = answer.value
    assert response.status == 400
    message = response.json()["message"]
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == f"400: {message}"
    assert page.locator("#canvas polygon.line").count() == 0


def test_json_download_is_the_answer(page):
    _open(page)
    body = _run(page, data_path("mmocr", "demo", "demo_text_recog.jpg"))
    with page.expect_download() as download:
        page.select_option("#format", "json")
        page.click("#download")
    import json

    saved = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert download.value.suggested_filename == "demo_text_recog.json"
    assert saved["pages"] == body["pages"]
    with page.expect_download() as picture:  # the PNG comes from POST /visualize with the same options
        page.select_option("#format", "png")
        page.click("#download")
    from PIL import Image

    drawn = Image.open(picture.value.path())
    assert picture.value.suggested_filename == "demo_text_recog.png"
    assert (drawn.format, drawn.size) == ("PNG", (2 * body["pages"][0]["width"], body["pages"][0]["height"]))


# The picture the page drew under the boxes of page `n`, as drawn (through its SVG transform) on a canvas of
# the page's size: the canvas as PNG and, per line box, the share of its pixels that are not white (the
# placeholder before the picture arrives is pure white).
_PICTURE = """async (n) => {
  const shown = document.querySelector(`#layer-image image[data-page="${n}"][data-loaded="1"]`);
  const picture = new Image();
  picture.src = shown.getAttribute("href");
  await picture.decode();
  const page = state.result.pages[state.page];
  const canvas = document.createElement("canvas");
  canvas.width = page.width;
  canvas.height = page.height;
  const g = canvas.getContext("2d");
  const m = shown.transform.baseVal.consolidate();
  if (m) g.setTransform(m.matrix.a, m.matrix.b, m.matrix.c, m.matrix.d, m.matrix.e, m.matrix.f);
  g.drawImage(picture, 0, 0, Number(shown.getAttribute("width")), Number(shown.getAttribute("height")));
  g.resetTransform();
  const inked = page.result.map((line) => {
    const xs = line.box.filter((_, i) => i % 2 === 0), ys = line.box.filter((_, i) => i % 2 === 1);
    const x0 = Math.max(0, Math.floor(Math.min(...xs))), y0 = Math.max(0, Math.floor(Math.min(...ys)));
    const w = Math.max(1, Math.ceil(Math.max(...xs)) - x0), h = Math.max(1, Math.ceil(Math.max(...ys)) - y0);
    const px = g.getImageData(x0, y0, w, h).data;
    let ink = 0;
    for (let i = 0; i < px.length; i += 4) if (Math.min(px[i], px[i + 1], px[i + 2]) < 200) ink += 1;
    return ink / (px.length / 4);
  });
  return { natural: [picture.naturalWidth, picture.naturalHeight], inked, png: canvas.toDataURL("image/png") };
}"""


def _assert_picture(page, shown: dict, expected) -> None:
    """Page `shown` is drawn over its own picture: as drawn, it equals `expected` (RGB, the page turned as /ocr
    turned it), and every line box has ink under it."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    number = shown["page"]
    page.wait_for_selector(f"#layer-image image[data-page='{number}'][data-loaded='1']", state="attached",
                           timeout=RESULT_TIMEOUT_MS)
    assert page.locator("#layer-image image").count() == 1  # only the page shown
    picture = page.evaluate(_PICTURE, number)
    turned = shown.get("rotation", 0) % 180 == 90
    assert tuple(picture["natural"]) == ((shown["height"], shown["width"]) if turned else (shown["width"], shown["height"]))
    drawn = np.asarray(Image.open(io.BytesIO(base64.b64decode(picture["png"].split(",", 1)[1]))).convert("RGB"))
    assert drawn.shape == expected.shape
    assert np.abs(drawn.astype(int) - expected).mean() < 3  # the same pixels, where they belong
    assert picture["inked"] and min(picture["inked"]) > 0.05, picture["inked"]


def test_a_pdf_is_drawn_page_by_page_over_its_own_pictures(page, tmp_path, screenshot_path):
    import numpy as np
    from PIL import Image

    from tests.document_files import render

    images = [Image.open(data_path("mmocr", "demo", name)).convert("RGB")
              for name in ("demo_text_recog.jpg", "demo_text_ocr.jpg")]
    pdf = tmp_path / "two-pages.pdf"
    images[0].save(pdf, save_all=True, append_images=images[1:], resolution=72)
    _open(page)
    body = _run(page, pdf)
    pages = body["pages"]
    # page 2 (the sign) has lines; the one-word page 1 may have none left by the recogniser's score floor
    assert [p["page"] for p in pages] == [1, 2] and pages[1]["result"]
    # each page's picture as /ocr saw it: rendered at the request's dpi, turned upright by `rotation` clockwise
    # (orientation=auto is the PDF default; it may judge the one-word page 1 sideways)
    rendered = [np.rot90(render(pdf.read_bytes(), p["page"], dpi=body["document"]["dpi"])[:, :, ::-1],
                         k=-p["rotation"] // 90) for p in pages]
    _assert_picture(page, pages[0], rendered[0])
    page.click("#next")
    assert page.inner_text("#page-label") == "Page 2 / 2"
    assert page.locator("#canvas polygon.line").count() == len(pages[1]["result"])
    assert page.locator("#lines li").all_inner_texts() == [line["text"] for line in pages[1]["result"]]
    assert page.get_attribute("#canvas", "viewBox") == f"0 0 {pages[1]['width']} {pages[1]['height']}"
    _assert_picture(page, pages[1], rendered[1])
    assert page.is_disabled("#next")
    page.screenshot(path=str(screenshot_path.with_name("pdf-page-2.png")), full_page=True)
    page.click("#prev")
    assert page.inner_text("#page-label") == "Page 1 / 2" and page.is_disabled("#prev")
    _assert_picture(page, pages[0], rendered[0])


def test_turned_tiff_frames_are_drawn_turned_under_their_boxes(page, tmp_path):
    """Sideways scans: /ocr's boxes are in the upright page, so the page's picture is turned the same way."""
    import cv2

    from tests.document_files import tiff

    names = ("phototest-rotated-L.png", "phototest-rotated-R.png")
    frames = [cv2.imread(str(data_path("tesseract", "testing", name)), cv2.IMREAD_COLOR) for name in names]
    path = tmp_path / "turned.tif"
    path.write_bytes(tiff(frames))
    _open(page)
    pages = _run(page, path)["pages"]
    assert [p["rotation"] for p in pages] == [90, 270]  # as tests/integration/test_documents.py reads them
    turns = {90: cv2.ROTATE_90_CLOCKWISE, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    _assert_picture(page, pages[0], cv2.rotate(frames[0], turns[90])[:, :, ::-1])
    page.click("#next")
    _assert_picture(page, pages[1], cv2.rotate(frames[1], turns[270])[:, :, ::-1])


@pytest.mark.parametrize("path, ready", [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")])
def test_api_docs_render_from_local_assets(page, path, ready):
    page.goto(path)
    page.wait_for_selector(f"{ready}:has-text('ocrserve')", timeout=60_000)
    assert page.locator("text=/ocr").count() > 0


@pytest.mark.skipif(not os.environ.get("OCRSERVE_DOCS_SCREENSHOT"),
                    reason="writes the README's screenshot: OCRSERVE_DOCS_SCREENSHOT=docs/web-page.png")
def test_docs_screenshot(page, tmp_path):
    """The README's picture: a synthetic receipt (service.tooling.synth.receipts, seed 7) read with KIE, one line selected."""
    import cv2
    from PIL import Image

    from service.tooling.synth.receipts import synth_receipt

    receipt = tmp_path / "receipt.jpg"
    cv2.imwrite(str(receipt), synth_receipt(7, 0)[0])
    page.set_viewport_size({"width": 1200, "height": 760})
    _open(page)
    body = _run(page, receipt, kie="sdmgr")
    labelled = [i for i, line in enumerate(body["pages"][0]["result"]) if line["label"] not in ("Others", "Ignore")]
    page.locator(f"#lines li[data-index='{labelled[len(labelled) // 2]}']").click()
    shot = tmp_path / "shot.png"
    page.screenshot(path=str(shot))
    out = os.environ["OCRSERVE_DOCS_SCREENSHOT"]
    Image.open(shot).convert("RGB").quantize(colors=96).save(out, optimize=True)  # small enough for the repo
    print(f"\nscreenshot: {out}")
