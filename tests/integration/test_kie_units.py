"""/ocr?kie=sdmgr&kie_unit=segment|word through the session's TorchServe on real SROIE receipts
(tuning half of bench/kie_real_receipts.py, never a reported one): labels on segments, pairs that
name them, the date value, and the option's 422s."""
from __future__ import annotations

import pytest

from tests.conftest import data_path


def _ocr(gateway, name: str, **params):
    image = data_path("sroie2019_train", "img", name).read_bytes()
    response = gateway.post("/ocr", params={"kie": "sdmgr", **params}, files={"file": (name, image, "image/jpeg")})
    assert response.status_code == 200, response.text
    return response.json()["pages"][0]


def _line(page, text):
    [line] = [line for line in page["result"] if line["text"] == text]
    return line


def test_segments_split_a_key_from_its_value_and_carry_the_labels(gateway):
    page = _ocr(gateway, "485.jpg", kie_unit="segment")
    line = _line(page, "Date: 20/09/2017")
    assert "label" not in line  # labels live on the segments in this mode
    key, value = line["segments"]
    assert (key["text"], key["word_start"], key["word_end"]) == ("Date:", 0, 1)
    assert (value["text"], value["label"], value["value"]) == ("20/09/2017", "Date_value", "20/09/2017")
    assert key["label"] == "Date_key"
    for item in page["result"]:
        spans = [(s["word_start"], s["word_end"]) for s in item["segments"]]
        assert spans[0][0] == 0 and spans[-1][1] == len(item["words"])  # the segments tile the words
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert page["pairs"]
    for pair in page["pairs"]:
        key_line, value_line = page["result"][pair["from"]], page["result"][pair["to"]]
        assert key_line["segments"][pair["from_segment"]]["label"].endswith("_key")
        assert value_line["segments"][pair["to_segment"]]["label"].endswith("_value")


def test_word_units_separate_a_date_from_its_time(gateway):
    page = _ocr(gateway, "005.jpg", kie_unit="word")
    line = _line(page, "09/01/2019 8:01:11 PM")
    assert [s["text"] for s in line["segments"]] == ["09/01/2019", "8:01:11", "PM"]
    assert line["segments"][0]["label"] == "Date_value" and line["segments"][0]["value"] == "09/01/2019"
    assert line["segments"][1]["label"] == "Time_value"


@pytest.mark.parametrize("params, message", [
    ({"kie": "sdmgr", "kie_unit": "cell"}, "kie_unit"),
    ({"kie_unit": "segment"}, "kie_unit applies with a KIE model"),
])
def test_bad_kie_unit_is_422(gateway, params, message):
    image = data_path("sroie2019_train", "img", "005.jpg").read_bytes()
    response = gateway.post("/ocr", params=params, files={"file": ("005.jpg", image, "image/jpeg")})
    assert response.status_code == 422 and message in response.json()["message"], response.text


def test_openapi_declares_the_unit_and_the_segments(gateway):
    spec = gateway.get("/openapi.json").json()
    [param] = [p for p in spec["paths"]["/ocr"]["post"]["parameters"] if p["name"] == "kie_unit"]
    assert "segment" in str(param["schema"]) and "word" in str(param["schema"])
    schemas = spec["components"]["schemas"]
    assert {"word_start", "word_end", "label", "value"} <= set(schemas["Segment"]["properties"])
    assert "segments" in schemas["Instance"]["properties"] and "value" in schemas["Instance"]["properties"]
    assert {"from_segment", "to_segment"} <= set(schemas["PagePair"]["properties"])
