"""Small files that would cost a lot of work are refused before the work (issue 14)."""
from __future__ import annotations

from bench.reliability.corpus import dashes_page


def test_a_small_page_of_dashes_is_refused_before_recognition(gateway):
    page = dashes_page()
    assert len(page) < 20_000
    response = gateway.post("/ocr", files={"file": ("dashes.png", page, "image/png")})
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["error"] == "PayloadTooLarge" and "recogniser columns" in body["message"], body
    # ~70 lines at the 3,200-column cap: far past the 60,000 + 4 per byte allowed a 15 KB file.
    columns = int(body["message"].split(" recogniser columns")[0].rsplit(" ", 1)[1].replace(",", ""))
    assert columns > 150_000, body
