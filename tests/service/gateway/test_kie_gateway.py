"""KIE through the gateway with the models in-process (LocalBackend): POST /kie and /ocr?kie=."""
from __future__ import annotations

import base64
import json

import pytest
import torch
from fastapi.testclient import TestClient

from handlers.api.class_list import read_class_list
from service.tooling.local_backend import LocalBackend
from service.gateway.main import create_app
from service.gateway.settings import Settings
from service.tooling.packaging.weights import WeightError, sha256_of, verified_file
from service.gateway.zoo import REPO_ROOT, ZooEntry, add_local_model, load_zoo
from tests.oracle import save_checkpoint
from tests.handlers.checkpoints import private_zoo
from tests.handlers.test_kie_handler import NOVISUAL, ORACLE_BOXES, ORACLE_TEXTS, kie_files, receipt


@pytest.fixture(scope="module")
def kie_zoo(tmp_path_factory):
    """A private zoo with the oracle's no-visual SDMG-R as local model `mykie` (no archive needed)."""
    root = tmp_path_factory.mktemp("kie-gateway")
    checkpoint = save_checkpoint(NOVISUAL, root / "sdmgr.pth")
    zoo_path = private_zoo(root)
    files = {k: {"path": str(p), "sha256": sha256_of(p)} for k, p in kie_files().items()}
    add_local_model(ZooEntry.model_validate({
        "name": "mykie", "task": "kie", "family": "sdmgr", "runtime": "torch", "files": files,
        "weights": {"package": "local", "version": "0", "path": str(checkpoint), "sha256": sha256_of(checkpoint)},
        "config": {"arch": NOVISUAL}}), zoo_path)
    return zoo_path


@pytest.fixture(scope="module")
def client(kie_zoo):
    torch.set_num_threads(1)
    settings = Settings(zoo_path=kie_zoo, max_upload_bytes=2 * 1024 * 1024)
    with TestClient(create_app(settings, backend=LocalBackend(load_zoo(kie_zoo)))) as c:
        yield c


def _oracle_doc() -> dict:
    return {"instances": [{"box": b, "text": t} for b, t in zip(ORACLE_BOXES, ORACLE_TEXTS)],
            "width": 512, "height": 512}


def test_kie_json_labels_the_callers_boxes(client):
    response = client.post("/kie?model=mykie", json=_oracle_doc())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "mykie" and body["pairs"] == [] and "kie" in body["timings_ms"]
    assert [i["label_id"] for i in body["instances"]] == [4, 4, 4, 21, 14]  # the oracle's labels
    assert [i["text"] for i in body["instances"]] == ORACLE_TEXTS
    assert body["instances"][0]["box"] == ORACLE_BOXES[0] and body["instances"][0]["label"] == "Store_addr_key"
    assert 'ocrserve_stage_seconds_count{stage="kie"}' in client.get("/metrics").text


def test_kie_multipart_equals_json_on_a_receipt(client):
    image, annotations = receipt()
    instances = [{"box": a["box"], "text": a["text"]} for a in annotations]
    as_json = client.post("/kie", json={"model": "mykie", "image": base64.b64encode(image).decode(),
                                        "instances": instances})
    as_form = client.post("/kie", files={"file": ("r.jpeg", image, "image/jpeg")},
                          data={"instances": json.dumps(instances), "model": "mykie"})
    # the URL-safe alphabet without padding decodes as the worker decodes it (handlers/api/codecs.py)
    urlsafe = client.post("/kie", json={"model": "mykie", "image": base64.urlsafe_b64encode(image).decode().rstrip("="),
                                        "instances": instances})
    assert as_json.status_code == as_form.status_code == urlsafe.status_code == 200, urlsafe.text
    assert as_json.json()["instances"] == as_form.json()["instances"] == urlsafe.json()["instances"]
    classes = read_class_list(kie_files()["class_list"])
    assert [i["label"] for i in as_json.json()["instances"]] == [classes[i["label_id"]] for i in
                                                                  as_json.json()["instances"]]
    assert len(as_json.json()["instances"]) == len(annotations)


@pytest.mark.parametrize("request_kwargs, status, words", [
    ({"params": {"model": "nope"}, "json": {"instances": []}}, 404, "unknown kie model"),
    ({"params": {"model": "dbnet"}, "json": {"instances": []}}, 404, "available: mykie"),
    ({"params": {"model": "mykie"}, "json": {"image": "@@not base64@@", "instances": []}}, 400, "base64"),
    ({"params": {"model": "mykie"}, "json": {"boxes": []}}, 422, "needs instances"),
    ({"params": {"model": "mykie"}, "json": {"instances": [{"box": [1, 2, 3, 4]}]}}, 400, "no text"),
    ({"params": {"model": "mykie"}, "json": {"instances": [{"box": [1, 2, 3], "text": "a"}]}}, 400, "3 numbers"),
    ({"params": {"model": "mykie"}, "json": {"instances": [{"box": [0, 0, 9, 9], "text": "a"}] * 1000}}, 413, "300"),
    ({"params": {"model": "mykie"}, "content": b"[1]", "headers": {"Content-Type": "application/json"}}, 422, "object"),
])
def test_kie_bad_requests_get_clear_errors(client, request_kwargs, status, words):
    response = client.post("/kie", **request_kwargs)
    assert response.status_code == status, response.text
    assert words in response.json()["message"].lower()


def test_kie_zero_boxes_is_empty(client):
    body = client.post("/kie?model=mykie", json={"instances": []}).json()
    assert body["instances"] == [] and body["pairs"] == []


def test_ocr_with_kie_labels_every_read_line(client, weights_ready):
    image, _ = receipt()
    response = client.post("/ocr", params={"kie": "mykie"}, files={"file": ("r.jpeg", image, "image/jpeg")})
    assert response.status_code == 200, response.text
    body = response.json()
    page = body["pages"][0]
    classes = set(read_class_list(kie_files()["class_list"]))
    assert len(page["result"]) >= 20  # a receipt has dozens of lines
    assert all(line["label"] in classes and 0 < line["label_score"] <= 1 for line in page["result"])
    assert isinstance(page["pairs"], list) and body["models"]["kie"] == "mykie"
    assert "kie" in body["timings_ms"]


@pytest.mark.parametrize("params, status", [({"kie": "nope"}, 404), ({"kie": "mykie", "rec": "none"}, 422)])
def test_ocr_kie_option_errors(client, params, status):
    image, _ = receipt()
    response = client.post("/ocr", params=params, files={"file": ("r.jpeg", image, "image/jpeg")})
    assert response.status_code == status, response.text


def test_without_model_the_zoos_default_kie_model_answers(client, kie_zoo):
    default = load_zoo(kie_zoo).defaults.get("kie")
    response = client.post("/kie", json={"instances": []})
    if default is None:
        assert response.status_code == 404 and "no default" in response.json()["message"]
    else:
        assert response.status_code == 200 and response.json()["model"] == default


def test_in_repo_weights_resolve_from_the_repo_root_and_are_verified():
    doc = REPO_ROOT / "docs" / "kie.md"
    entry = ZooEntry.model_validate({
        "name": "x", "task": "kie", "family": "sdmgr", "runtime": "torch", "config": {"arch": NOVISUAL},
        "weights": {"package": "ocrserve", "version": "0", "path": "docs/kie.md", "sha256": sha256_of(doc)}})
    assert entry.packages() == set()  # nothing to pip-install
    assert verified_file(entry, entry.weights) == doc
    wrong = entry.model_copy(update={"weights": entry.weights.model_copy(update={"sha256": "0" * 64})})
    with pytest.raises(WeightError, match="pins"):
        verified_file(wrong, wrong.weights)
