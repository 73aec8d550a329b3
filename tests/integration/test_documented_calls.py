"""Calls from the README and docs/ that used to fail or disagree with what they promise (issue 16)."""
from __future__ import annotations

import time

import httpx
import pytest

from service.tooling.packaging.archive import build_archive
from service.gateway.zoo import REPO_ROOT, add_local_model
from tests.conftest import data_path
from tests.integration.conftest import ADMIN_KEY
from tests.integration.servers import gateway_settings, running_gateway

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _photo() -> bytes:
    return data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()


def test_torchserve_metrics_port_serves_prometheus_text(torchserve, inference):
    # dbnet itself, not /ocr: /ocr sends this photo to the photo route's detector, and in a fresh
    # TorchServe nothing else has called dbnet yet
    assert inference.post("/predictions/dbnet", content=_photo()).status_code == 200
    deadline = time.monotonic() + 10  # the counter may land just after the response
    while True:
        metrics = httpx.get(f"http://127.0.0.1:{torchserve.config.metrics_port}/metrics", timeout=30)
        assert metrics.status_code == 200
        counted = [line for line in metrics.text.splitlines() if line.startswith("ts_inference_requests_total")]
        if any('model_name="dbnet"' in line for line in counted) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert any('model_name="dbnet"' in line for line in counted), metrics.text[-2000:]


def test_predictions_take_a_raw_body_as_docs_detectors_md_says(inference):
    # `curl -T photo.jpg` and `curl --data-binary @photo.jpg -H 'Content-Type: application/octet-stream'`
    raw = inference.post("/predictions/dbnet", content=_photo(), headers={"Content-Type": "application/octet-stream"})
    assert raw.status_code == 200 and raw.json()["boundary_result"]
    # plain `--data-binary` sends application/x-www-form-urlencoded: TorchServe cannot decode an image from it
    form = inference.post("/predictions/dbnet", content=_photo(),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code >= 400


def test_ocr_omits_what_was_not_computed_and_kie_lines_carry_label_id(gateway):
    boxes_only = gateway.post("/ocr?rec=none", files={"file": ("a.jpg", _photo())}).json()
    line = boxes_only["pages"][0]["result"][0]
    assert set(line) == {"box", "box_score"} and "pairs" not in boxes_only["pages"][0]
    receipt = data_path("mmocr", "main", "kie_toy_dataset", "wildreceipt", "1.jpeg").read_bytes()
    labelled = gateway.post("/ocr?kie=sdmgr", files={"file": ("r.jpeg", receipt)}).json()
    classes = (REPO_ROOT / "model_store" / "weights" / "sdmgr-receipts" / "class_list.txt").read_text().split()
    lines = labelled["pages"][0]["result"]
    assert lines and "pairs" in labelled["pages"][0]
    for line in lines:
        assert isinstance(line["label_id"], int) and line["label"] in classes  # class_list: "<id> <name>" lines
        assert classes[classes.index(str(line["label_id"])) + 1] == line["label"]


def test_model_archived_while_the_gateway_runs_loads_without_a_restart(torchserve, tmp_path, zoo):
    zoo_path = tmp_path / "zoo.yaml"
    zoo_path.write_text((REPO_ROOT / "model_store" / "zoo.yaml").read_text())
    store = REPO_ROOT / "model_store"  # the session TorchServe's store
    entry = zoo.get("ppocrv6-tiny-rec").model_copy(update={"name": "issue16-late-rec"})
    settings = gateway_settings(torchserve.config, admin_key=ADMIN_KEY, zoo_path=zoo_path, model_store=store)
    with running_gateway(settings) as url, httpx.Client(base_url=url, timeout=120) as gateway:
        assert gateway.post("/models/issue16-late-rec", headers=AUTH).status_code == 404  # not archived yet
        mar = build_archive(entry, store=store)  # what `ocrserve archive` does, then local.yaml names it
        add_local_model(entry, zoo_path)
        try:
            loaded = gateway.post("/models/issue16-late-rec", headers=AUTH)
            assert loaded.status_code == 200 and loaded.json()["status"] == "READY", loaded.text
            word = data_path("mmocr", "0.x", "ocr_toy_dataset", "imgs", "1223729.jpg").read_bytes()
            read = gateway.post("/ocr?det=none&rec=issue16-late-rec", files={"file": ("w", word)})
            assert read.status_code == 200 and read.json()["pages"][0]["result"][0]["text"].startswith("PAC")
        finally:
            gateway.delete("/models/issue16-late-rec", headers=AUTH)
            mar.unlink(missing_ok=True)
            for stale in store.glob(".issue16-late-rec*"):
                stale.unlink()


def test_readyz_waits_for_the_models_it_was_given_and_names_them_plainly(torchserve):
    ready = gateway_settings(torchserve.config, ready_models=["dbnet", "ppocrv6-small-rec"])
    with running_gateway(ready) as url:
        answer = httpx.get(f"{url}/readyz", timeout=60)
    assert answer.status_code == 200 and sorted(answer.json()["models"]) == ["dbnet", "ppocrv6-small-rec"]
    missing = gateway_settings(torchserve.config, ready_models=["dbnet", "ppocrv4-det"])
    with running_gateway(missing) as url:
        answer = httpx.get(f"{url}/readyz", timeout=60)
    assert answer.status_code == 503
    status = answer.json()["models"]["ppocrv4-det"]
    assert status.startswith("UNAVAILABLE") and "'ppocrv4-det'" in status and "/models/" not in status


@pytest.mark.parametrize("route", ["/kie?model=issue16-not-loaded-kie"])
def test_kie_without_a_loaded_model_is_503_with_the_list(torchserve, tmp_path, zoo, route):
    # a KIE model the zoo knows (local.yaml) but TorchServe never loaded
    zoo_path = tmp_path / "zoo.yaml"
    zoo_path.write_text((REPO_ROOT / "model_store" / "zoo.yaml").read_text())
    add_local_model(zoo.get("sdmgr").model_copy(update={"name": "issue16-not-loaded-kie"}), zoo_path)
    with running_gateway(gateway_settings(torchserve.config, zoo_path=zoo_path)) as url:
        answer = httpx.post(f"{url}{route}", json={"instances": [{"box": [0, 0, 10, 0, 10, 10, 0, 10], "text": "TOTAL"}]},
                            timeout=60)
    assert answer.status_code == 503, answer.text
    message = answer.json()["message"]
    assert "issue16-not-loaded-kie" in message and "sdmgr" in message and "dbnet" in message


def test_eval_reports_the_phototest_cer_row_of_the_readme(gateway):
    from service.tooling.cli_eval import _document_pages
    from service.tooling.evaluation.clients import remote_ocr
    from service.tooling.evaluation.evaluation import evaluate_documents
    from tests.conftest import DATA

    pages = [p for p in _document_pages(DATA) if p[0].stem == "phototest"]
    if not pages:
        pytest.skip("tesseract/testing/phototest.tif is not in the shared data")
    report = evaluate_documents(pages, remote_ocr(str(gateway.base_url)))
    assert report["cer_phototest"] < 0.02  # README: 0
