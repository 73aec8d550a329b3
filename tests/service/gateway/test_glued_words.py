"""Words the recogniser ran together are cut where the line shows a gap and the lexicon agrees."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.gateway.glued_words import GLUED_GAP, glued_cuts
from service.gateway.main import create_app
from service.gateway.settings import Settings
from service.tooling.local_backend import LocalBackend
from tests.conftest import data_path


def _spans(text: str, wide: set[int] = frozenset(), pitch: int = 3, extra: int = 2) -> list:
    """CTC-like character spans in frames of 1/100 of the line: one char every `pitch` frames, and
    `extra` more frames before each index in `wide` (a visible gap between two letters)."""
    chars, at = [], 0
    for index, char in enumerate(text):
        at += extra if index in wide else 0
        chars.append([char, at / 100, (at + 1) / 100, 0.95])
        at += pitch
    return chars


def test_cut_where_the_gap_and_the_lexicon_agree():
    assert glued_cuts(_spans("NEWYEAR", {3})) == [3]
    assert glued_cuts(_spans("FORSUCCESS", {3})) == [3]
    assert glued_cuts(_spans("THELENSMEN", {3, 7})) == [3, 7]
    # a gap the lexicon does not cut at is no cut: the gap alone says nothing
    assert glued_cuts(_spans("NEWYEAR", {2})) == []


def test_no_cut_without_a_gap():
    """Evenly spaced letters are one word on the page, whatever the lexicon would make of them."""
    assert glued_cuts(_spans("NEWYEAR")) == []
    assert glued_cuts(_spans("FairPrice")) == []
    # a gap of 1.33 pitches passes the default 1.3 and fails 1.4
    assert glued_cuts(_spans("NEWYEAR", {3}, pitch=3, extra=1), gap=GLUED_GAP) == [3]
    assert glued_cuts(_spans("NEWYEAR", {3}, pitch=3, extra=1), gap=1.4) == []


def test_dictionary_words_and_misreadings_stay_whole():
    assert glued_cuts(_spans("Passenger", {4})) == []  # one word: the lexicon does not cut it
    assert glued_cuts(_spans("Approoch", {5})) == []  # one letter from "approach": a misreading
    assert glued_cuts(_spans("Beglnning", {5})) == []


def test_only_runs_of_ascii_letters_are_cut():
    assert glued_cuts(_spans("50%OFF", {3})) == []
    assert glued_cuts(_spans("个Lift", {1})) == []
    assert glued_cuts(_spans("über", {2})) == []
    # letters around a digit: each run is looked at on its own
    assert glued_cuts(_spans("2NEWYEAR", {4})) == [4]
    assert glued_cuts(_spans("NEW", {1})) == []  # shorter than 4 letters
    assert glued_cuts(_spans("NEWYEAR", {3}), gap=0) == []


@pytest.fixture(scope="module")
def client(zoo, weights_ready):
    with TestClient(create_app(Settings(), backend=LocalBackend(zoo))) as c:
        yield c


def test_a_shop_sign_read_without_spaces_gives_its_words(client):
    """ICDAR 2015 training photo 407: "NEW YEAR" and "NEW YORK" painted with wide letter gaps, read
    by the recogniser as NEWYEAR / NEWYORK. The line text stays as read; its words are cut."""
    photo = data_path("icdar2015_train", "images", "img_407.jpg").read_bytes()

    def words(**options) -> list[str]:
        answer = client.post("/ocr", params=options, files={"file": ("img_407.jpg", photo)})
        assert answer.status_code == 200
        return [w["text"] for line in answer.json()["pages"][0]["result"] for w in line["words"]]

    glued = words(glued_gap=0)
    assert "NEWYEAR" in glued and "NEWYORK" in glued
    cut = words()
    assert "NEWYEAR" not in cut and {"NEW", "YEAR", "YORK"} <= set(cut)


def test_glued_gap_is_validated(client):
    photo = data_path("icdar2015_train", "images", "img_407.jpg").read_bytes()
    answer = client.post("/ocr", params={"glued_gap": -1}, files={"file": ("a.jpg", photo)})
    assert answer.status_code in (400, 422) and "glued_gap" in answer.text
