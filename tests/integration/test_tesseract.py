"""Tesseract models registered on the session TorchServe (management API) and used through /ocr."""
from __future__ import annotations

import pytest

from tests.conftest import data_path
from tests.integration.conftest import ADMIN_KEY

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
MODELS = ("tesseract-det", "tesseract-rec")


@pytest.fixture(scope="module")
def tesseract(gateway, zoo):
    """Load both Tesseract models for this module, unload them after (the session server stays lean)."""
    if not all(zoo.get(name).installed() for name in MODELS):
        pytest.skip("Tesseract's language data is not installed (scripts/setup_tesseract.sh)")
    for name in MODELS:
        loaded = gateway.post(f"/models/{name}", headers=AUTH)
        assert loaded.status_code == 200, loaded.text
    yield gateway
    for name in MODELS:
        gateway.delete(f"/models/{name}", headers=AUTH)


def _ocr(client, image: bytes, **params):
    return client.post("/ocr", params=params, files={"file": ("page", image)})


def _page():
    return data_path("tesseract", "testing", "phototest.tif").read_bytes()


def _truth() -> list[str]:
    return [t for t in data_path("tesseract", "testing", "phototest.txt").read_text().splitlines() if t.strip()]


def _check_contract(result: list[dict]) -> None:
    for line in result:
        assert len(line["box"]) == 8 and 0 < line["box_score"] <= 1 and 0 < line["text_score"] <= 1
        assert [w["text"] for w in line["words"]] == line["text"].split()
        for word in line["words"]:
            xs = word["box"][0::2]
            assert min(line["box"][0::2]) - 1 <= min(xs) < max(xs) <= max(line["box"][0::2]) + 1


@pytest.mark.parametrize("det, rec", [("tesseract-det", "ppocrv6-small-rec"), ("dbnet", "tesseract-rec"),
                                      ("tesseract-det", "tesseract-rec")])
def test_each_pairing_reads_the_clean_page(tesseract, det, rec):
    response = _ocr(tesseract, _page(), det=det, rec=rec, cls="false")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["models"] == {"det": det, "rec": rec}
    result = body["pages"][0]["result"]
    _check_contract(result)
    truth = _truth()
    assert len(result) == len(truth)
    words_read = [w for line in result for w in line["text"].split()]
    words_true = [w for line in truth for w in line.split()]
    # the page is clean print: every pairing gets nearly every word exactly
    assert sum(a == b for a, b in zip(words_read, words_true)) >= 0.9 * len(words_true), words_read


def test_lang_is_checked_and_routed(tesseract):
    missing = _ocr(tesseract, _page(), det="dbnet", rec="tesseract-rec", lang="tlh")
    assert missing.status_code == 422 and "installed: eng" in missing.json()["message"]
    missing_det = _ocr(tesseract, _page(), det="tesseract-det", rec="ppocrv6-small-rec", lang="deu+eng")
    assert missing_det.status_code == 422 and "deu" in missing_det.json()["message"]
    not_tesseract = _ocr(tesseract, _page(), det="dbnet", rec="ppocrv6-small-rec", lang="eng")
    assert not_tesseract.status_code == 422 and "Tesseract" in not_tesseract.json()["message"]
    ok = _ocr(tesseract, _page(), det="tesseract-det", rec="tesseract-rec", lang="eng")
    assert ok.status_code == 200 and len(ok.json()["pages"][0]["result"]) == len(_truth())


def test_word_level_detection(tesseract):
    response = _ocr(tesseract, _page(), det="tesseract-det", rec="tesseract-rec", level="word")
    assert response.status_code == 200, response.text
    result = response.json()["pages"][0]["result"]
    _check_contract(result)
    words_true = [w for line in _truth() for w in line.split()]
    assert abs(len(result) - len(words_true)) <= 2 and all(" " not in line["text"] for line in result)
    wrong = _ocr(tesseract, _page(), det="dbnet", rec="tesseract-rec", level="word")
    assert wrong.status_code == 422 and "Tesseract detector" in wrong.json()["message"]
    assert _ocr(tesseract, _page(), det="tesseract-det", level="page").status_code == 422
