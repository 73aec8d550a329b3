"""POST /ner and /ocr?ner= through the gateway with the models in-process (LocalBackend)."""
from __future__ import annotations

import pytest
import torch
from fastapi.testclient import TestClient

from service.tooling.local_backend import LocalBackend
from service.gateway.main import create_app
from service.gateway.ner_lines import pieces
from service.gateway.settings import Settings
from service.tooling.packaging.weights import sha256_of
from service.gateway.zoo import ZooEntry, add_local_model, load_zoo
from tests.handlers.checkpoints import private_zoo

from ._render import line_png

SENTENCE = "张伟在北京的华为技术担任工程师。"


@pytest.fixture(scope="module")
def ner_zoo(tiny_ner, tmp_path_factory):
    checkpoint, vocab, _ = tiny_ner
    zoo_path = private_zoo(tmp_path_factory.mktemp("ner-gateway"))
    add_local_model(ZooEntry.model_validate({
        "name": "myner", "task": "ner", "family": "bert_ner", "runtime": "torch",
        "files": {"vocab": {"path": str(vocab), "sha256": sha256_of(vocab)}},
        "weights": {"package": "local", "version": "0", "path": str(checkpoint), "sha256": sha256_of(checkpoint)},
        "config": {"arch": "bert_softmax_cluener"}}), zoo_path)
    return zoo_path


@pytest.fixture(scope="module")
def client(ner_zoo):
    torch.set_num_threads(1)
    with TestClient(create_app(Settings(zoo_path=ner_zoo), backend=LocalBackend(load_zoo(ner_zoo)))) as c:
        yield c


def test_ner_finds_typed_spans(client):
    response = client.post("/ner?model=myner", json={"texts": [SENTENCE, ""]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "myner" and "ner" in body["timings_ms"]
    first, empty = body["results"]
    assert empty == {"text": "", "entities": []} and first["text"] == SENTENCE
    found = {(e["type"], e["text"], e["start"], e["end"]) for e in first["entities"]}
    assert ("name", "张伟", 0, 2) in found and ("position", "工程师", 12, 15) in found
    assert all(0 < e["score"] <= 1 and "line" not in e for e in first["entities"])


@pytest.mark.parametrize("kwargs, status, words", [
    ({"json": {"texts": ["x"]}}, 404, "name a ner model"),
    ({"params": {"model": "nope"}, "json": {"texts": ["x"]}}, 404, "unknown ner model"),
    ({"params": {"model": "ppocrv6-small-rec"}, "json": {"texts": ["x"]}}, 404, "unknown ner model"),
    ({"params": {"model": "myner"}, "json": {"texts": "x"}}, 422, "list of strings"),
    ({"params": {"model": "myner"}, "json": {"texts": ["x", {"a": 1}]}}, 422, "texts[1] is a dict"),
    ({"params": {"model": "myner"}, "json": {"texts": ["x"] * 257}}, 413, "over the limit of 256"),
    ({"params": {"model": "myner"}, "json": {"texts": ["长" * 127]}}, 422, "over the model's limit of 126"),
    ({"params": {"model": "myner"}, "json": {"texts": ["长" * 600_000]}}, 413, "over the limit of"),
    ({"params": {"model": "myner"}, "content": b"texts"}, 422, "send JSON"),
])
def test_bad_requests_get_a_clear_4xx(client, kwargs, status, words):
    response = client.post("/ner", **kwargs)
    assert response.status_code == status, response.text
    assert words in response.json()["message"]


def test_long_lines_are_tagged_in_pieces():
    texts, where = pieces(["a" * 300, "", "bc"])
    assert [len(t) for t in texts] == [126, 126, 48, 2] and where == [(0, 0), (0, 126), (0, 252), (2, 0)]


def test_ocr_adds_entities_per_line_and_page(client, weights_ready):
    image = line_png(SENTENCE)
    response = client.post("/ocr?det=none&rec=ppocrv6-small-rec&ner=myner", files={"file": ("l.png", image)})
    assert response.status_code == 200, response.text
    page = response.json()["pages"][0]
    (line,) = page["result"]
    print("read:", line["text"], line["entities"])
    assert response.json()["models"]["ner"] == "myner"
    assert page["entities"] == [{**e, "line": 0} for e in line["entities"]]
    for e in line["entities"]:
        assert line["text"][e["start"]:e["end"]] == e["text"]
    if line["text"] == SENTENCE:
        assert ("name", "张伟") in {(e["type"], e["text"]) for e in line["entities"]}
    bad = client.post("/ocr?det=none&rec=none&ner=myner", files={"file": ("l.png", image)})
    assert bad.status_code == 422 and "rec=none" in bad.json()["message"]


def test_a_page_of_many_long_lines_is_tagged_in_several_calls(ner_zoo, client):
    """300 lines, one of 300 characters: more pieces than one handler request takes (256)."""
    import asyncio

    from service.gateway.ner_lines import tag_lines

    backend = LocalBackend(load_zoo(ner_zoo))
    long_line = "今年" + SENTENCE * 19  # 306 characters: pieces at 0, 126, 252
    result = [{"text": SENTENCE} for _ in range(299)] + [{"text": long_line}]
    page = asyncio.run(tag_lines(backend, "myner", result))
    assert len(result[0]["entities"]) >= 2 and result[0]["entities"] == result[298]["entities"]
    assert all(long_line[e["start"]:e["end"]] == e["text"] for e in result[299]["entities"])
    assert max(e["end"] for e in result[299]["entities"]) > 252
    assert len(page) == sum(len(r["entities"]) for r in result) and page[-1]["line"] == 299
