"""KIE served by a real TorchServe: an SDMG-R checkpoint archived with --class-list/--dict, called
directly and through the gateway (/kie with the caller's boxes, /ocr?kie= after OCR)."""
from __future__ import annotations

import base64
import json
import shutil

import httpx
import pytest

from handlers.api.class_list import read_class_list
from service.gateway.photo_route import route_image
from service.gateway.pipeline import OcrRequest
from service.gateway.settings import Settings
from tests.conftest import REPO, data_path
from tests.integration.servers import running_gateway, running_torchserve, torch_serve_config_for_store
from tests.handlers.test_kie_handler import VISUAL, kie_archive, kie_files, receipt

REC = "ppocrv6-tiny-rec"
# the shipped model labels 48 of the 60 ground-truth boxes of receipt 1 right (stage 3's 49, the
# synthetic-only model 33; the receipt is not in the WildReceipt subset, so none trained on it); this
# floor leaves room for other CPUs and thread counts, not for a broken model or the synthetic-only one
MIN_RIGHT_ON_RECEIPT_1 = 38


@pytest.fixture(scope="module")
def served(tmp_path_factory, archives_ready, zoo):
    root = tmp_path_factory.mktemp("kie-served")
    mar, zoo_path = kie_archive("mykie", VISUAL, root)
    store = mar.parent
    det = zoo.defaults["det"]
    for name in (det, REC):
        shutil.copy(REPO / "model_store" / f"{name}.mar", store)
    config = torch_serve_config_for_store(root / "ts", store, ["mykie", det, REC])
    with running_torchserve(config) as server:
        settings = Settings(inference_url=config.inference_url, management_url=config.management_url,
                            zoo_path=zoo_path, model_store=store)
        with running_gateway(settings) as url:
            with httpx.Client(base_url=url, timeout=180) as client:
                yield server, client


def _classes() -> list[str]:
    return read_class_list(kie_files()["class_list"])


def test_ocr_then_kie_labels_every_line_of_a_receipt(served, zoo):
    _, gateway = served
    image, _ = receipt()
    response = gateway.post("/ocr", params={"kie": "mykie", "rec": REC}, files={"file": ("1.jpeg", image)})
    assert response.status_code == 200, response.text
    body = response.json()
    # this phone photo of a receipt counts as a photo, but this TorchServe does not serve the zoo's
    # photo detector: the default detector reads it instead of a 503
    assert route_image(OcrRequest(det=zoo.defaults["det"], rec=REC, photos=zoo.photos), image).det == zoo.photos.det
    assert body["models"]["det"] == zoo.defaults["det"]
    lines = body["pages"][0]["result"]
    assert len(lines) >= 20 and body["models"]["kie"] == "mykie"
    assert all(line["label"] in _classes() and 0 < line["label_score"] <= 1 for line in lines)
    assert isinstance(body["pages"][0]["pairs"], list)


def test_kie_with_ground_truth_boxes_gives_one_label_per_box(served):
    server, gateway = served
    image, annotations = receipt()
    instances = [{"box": a["box"], "text": a["text"]} for a in annotations]
    response = gateway.post("/kie", json={"model": "mykie", "image": base64.b64encode(image).decode(),
                                          "instances": instances})
    assert response.status_code == 200, response.text
    labelled = response.json()["instances"]
    assert len(labelled) == len(annotations) == 60
    assert all(item["label"] == _classes()[item["label_id"]] for item in labelled)
    direct = httpx.post(f"{server.config.inference_url}/predictions/mykie", timeout=120,
                        files={"image": ("1.jpeg", image)}, data={"instances": json.dumps(instances)})
    assert direct.status_code == 200, direct.text
    assert [i["label_id"] for i in direct.json()["instances"]] == [i["label_id"] for i in labelled]


@pytest.mark.parametrize("instances, status, words", [
    ([{"box": [10, 10, 90, 40]}], 400, "no text"),
    ([{"box": [10, 10, 90], "text": "Total"}], 400, "3 numbers"),
    ([{"box": [0, 0, 9, 9], "text": "a"}] * 1000, 413, "limit of 300"),
])
def test_bad_kie_input_gets_a_clear_error(served, instances, status, words):
    _, gateway = served
    image, _ = receipt()
    response = gateway.post("/kie", json={"model": "mykie", "image": base64.b64encode(image).decode(),
                                          "instances": instances})
    assert response.status_code == status, response.text
    assert words in response.json()["message"]


def test_zero_boxes_and_unknown_characters_are_answered(served):
    _, gateway = served
    image, _ = receipt()
    b64 = base64.b64encode(image).decode()
    empty = gateway.post("/kie", json={"model": "mykie", "image": b64, "instances": []})
    assert empty.status_code == 200 and empty.json()["instances"] == []
    odd = gateway.post("/kie", json={"model": "mykie", "image": b64, "instances": [
        {"box": [550, 104, 937, 190], "text": "SAFEWAY"}, {"box": [907, 223, 1081, 256], "text": "☎ ü 703 777"}]})
    assert odd.status_code == 200, odd.text
    assert [i["text"] for i in odd.json()["instances"]] == ["SAFEWAY", "☎ ü 703 777"]


def test_the_default_kie_model_is_served_with_the_default_models(zoo, gateway):
    if "kie" not in zoo.defaults:
        pytest.skip("the zoo has no default KIE model")
    from service.tooling.packaging.weights import verified_file

    entry = zoo.get(zoo.defaults["kie"])
    classes = read_class_list(verified_file(entry, entry.files["class_list"]))
    image, annotations = receipt()
    instances = [{"box": a["box"], "text": a["text"]} for a in annotations]
    response = gateway.post("/kie", json={"image": base64.b64encode(image).decode(), "instances": instances})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == entry.name and len(body["instances"]) == len(annotations)
    assert all(item["label"] == classes[item["label_id"]] for item in body["instances"])
    truth = _classes()
    right = sum(item["label"].lower() == truth[a["label"]].lower() for item, a in zip(body["instances"], annotations))
    assert right >= MIN_RIGHT_ON_RECEIPT_1, right
    # receipt 1 has one key box (a quantity key): pairs are checked on a receipt with several
    # keys, from the validation part of the WildReceipt subset (the shipped model trained on all
    # 372 receipts of the subset, this one included: a check of the pair rule, not of accuracy)
    record = _wildreceipt_record(PAIRS_RECEIPT)
    response = gateway.post("/kie", json={"width": record["width"], "height": record["height"], "instances": [
        {"box": a["box"], "text": a["text"]} for a in record["annotations"]]})
    assert response.status_code == 200, response.text
    body = response.json()
    # the key -> value links of the ground truth (SubTotal, Tax, TOTAL to their amounts), by index:
    # the receipt prints 40.00 three times and a `$40.00` that belongs to DEBIT, not to TOTAL
    labels = [truth[a["label"]] for a in record["annotations"]]
    expected = {(i, j) for i, key in enumerate(labels) for j, value in enumerate(labels)
                if key.endswith("_key") and value == key[:-len("_key")] + "_value"}
    links = {(p["from"], p["to"]) for p in body["pairs"]}
    assert len(expected) == 3 and expected <= links, (expected, links)
    for pair in body["pairs"]:
        key, value = body["instances"][pair["from"]]["label"], body["instances"][pair["to"]]["label"]
        assert key.endswith("_key") and value == key[:-len("_key")] + "_value" and pair["score"] >= 0.5


PAIRS_RECEIPT = "image_files/Image_83/8/1946b6612d64f505c01875ebe26b34501b66fc7d.jpeg"


def _wildreceipt_record(file_name: str) -> dict:
    for line in data_path("wildreceipt_subset", "annotations.txt").read_text().splitlines():
        if line.strip() and json.loads(line)["file_name"] == file_name:
            return json.loads(line)
    raise AssertionError(f"{file_name} not in the WildReceipt subset")


def test_default_ocr_then_kie_equals_the_in_process_backend(zoo, gateway):
    if "kie" not in zoo.defaults:
        pytest.skip("the zoo has no default KIE model")
    import asyncio

    from service.tooling.local_backend import LocalBackend

    name = zoo.defaults["kie"]
    image, _ = receipt()
    response = gateway.post("/ocr", params={"kie": name}, files={"file": ("1.jpeg", image)})
    assert response.status_code == 200, response.text
    page = response.json()["pages"][0]
    lines = [{"box": line["box"], "text": line["text"]} for line in page["result"]]
    local = asyncio.run(LocalBackend(zoo).kie(name, image, None, {"instances": lines}))
    assert [line["label"] for line in page["result"]] == [label.label for label in local.labels]
    assert page["pairs"] == local.to_json()["pairs"]
