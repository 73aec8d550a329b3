"""`ocrserve eval --url`: the same dataset through the running gateway gives the in-process figures."""
from __future__ import annotations

from tests.conftest import data_path, eval_json


def test_det_and_kie_through_the_gateway_match_in_process(gateway, capsys):
    url = str(gateway.base_url)
    det = ["--data", str(data_path("mmocr", "0.x", "toy_dataset", "instances_test.json")), "--format", "coco",
           "--task", "det", "--limit", "1"]
    remote, local = eval_json(capsys, "--url", url, *det), eval_json(capsys, *det)
    assert remote["per_thr"] == local["per_thr"] and remote["det"]["hmean"] > 0.5
    kie = ["--data", str(data_path("mmocr", "main", "kie_toy_dataset", "wildreceipt", "data.txt")),
           "--format", "wildreceipt", "--task", "kie"]
    remote, local = eval_json(capsys, "--url", url, *kie), eval_json(capsys, *kie)
    assert remote["kie"] == local["kie"] and remote["receipts"] == 2 and remote["kie"]["macro_f1"] > 0.2
