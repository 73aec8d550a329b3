"""NER through the real TorchServe and gateway: the tiny tagger archived with
`--arch bert_softmax_cluener --vocab`, registered on the session TorchServe through its
management API (not a zoo default), then POST /ner and /ocr?ner= through a gateway whose zoo
knows it."""
from __future__ import annotations

import shutil

import httpx
import pytest

from service.tooling.packaging.archive import build_checkpoint_archive
from tests.conftest import REPO
from tests.integration.servers import gateway_settings, running_gateway
from tests.handlers.families.ner._render import line_png
from tests.handlers.families.ner._tiny import train_tiny

NAME = "it-ner-tiny"
SENTENCE = "张伟在北京的华为技术担任工程师。"


@pytest.fixture(scope="module")
def ner_gateway(torchserve, tmp_path_factory):
    root = tmp_path_factory.mktemp("ner-it")
    checkpoint, vocab, _ = train_tiny(root)
    zoo_path = root / "zoo.yaml"
    shutil.copy(REPO / "model_store" / "zoo.yaml", zoo_path)
    store = torchserve.config.model_store
    mar = build_checkpoint_archive(NAME, "bert_softmax_cluener", checkpoint, store=store, zoo_path=zoo_path,
                                   files={"vocab": vocab})
    management = torchserve.config.management_url
    headers = torchserve.management_headers()
    try:
        registered = httpx.post(f"{management}/models", headers=headers, timeout=180, params={
            "url": mar.name, "model_name": NAME, "initial_workers": 1, "synchronous": "true"})
        assert registered.status_code == 200, registered.text
        with running_gateway(gateway_settings(torchserve.config, zoo_path=zoo_path)) as url:
            with httpx.Client(base_url=url, timeout=120) as client:
                yield client, torchserve.config.inference_url
    finally:
        httpx.delete(f"{management}/models/{NAME}", headers=headers, timeout=60)
        mar.unlink(missing_ok=True)
        (store / f".{NAME}.fingerprint").unlink(missing_ok=True)


def test_ner_through_torchserve(ner_gateway):
    client, inference = ner_gateway
    direct = httpx.post(f"{inference}/predictions/{NAME}", json={"texts": [SENTENCE]}, timeout=60)
    assert direct.status_code == 200, direct.text
    body = client.post(f"/ner?model={NAME}", json={"texts": [SENTENCE, "", "今年李娜离开上海。"]})
    assert body.status_code == 200, body.text
    results = body.json()["results"]
    assert results[0]["entities"] == direct.json()["entities"][0] and results[1]["entities"] == []
    found = {(e["type"], e["text"]) for e in results[0]["entities"]}
    assert ("name", "张伟") in found and ("position", "工程师") in found


@pytest.mark.parametrize("payload, status, words", [
    ({"texts": [1, "x"]}, 422, "texts[0] is a int"),
    ({"texts": ["x"] * 300}, 413, "over the limit of 256"),
    ({"texts": ["长" * 200]}, 422, "over the model's limit of 126"),
    ({"texts": ["长" * 2_000_000]}, 413, "over the limit of"),
    ({"texts": None}, 422, "list of strings"),
])
def test_bad_input_is_a_clear_4xx_and_the_worker_lives(ner_gateway, payload, status, words):
    client, _ = ner_gateway
    response = client.post(f"/ner?model={NAME}", json=payload)
    assert response.status_code == status, response.text
    assert words in response.json()["message"]
    assert client.post(f"/ner?model={NAME}", json={"texts": [SENTENCE]}).status_code == 200


def test_ner_is_not_a_default_and_needs_a_name(ner_gateway, gateway):
    client, _ = ner_gateway
    assert client.post("/ner", json={"texts": ["x"]}).status_code == 404
    assert gateway.post("/ner", json={"texts": ["x"]}).status_code == 404  # the session gateway's zoo


def test_ocr_with_ner_tags_the_read_line(ner_gateway):
    client, _ = ner_gateway
    response = client.post(f"/ocr?det=none&rec=ppocrv6-small-rec&ner={NAME}",
                           files={"file": ("line.png", line_png(SENTENCE))})
    assert response.status_code == 200, response.text
    page = response.json()["pages"][0]
    (line,) = page["result"]
    assert line["text"] == SENTENCE  # ppocrv6-small-rec reads the rendered line exactly
    assert ("name", "张伟") in {(e["type"], e["text"]) for e in line["entities"]}
    assert page["entities"] == [{**e, "line": 0} for e in line["entities"]]
