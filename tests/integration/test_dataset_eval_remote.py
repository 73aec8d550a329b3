"""`ocrserve eval --url`: the same dataset through the running gateway gives the in-process figures."""
from __future__ import annotations

import json

from service.cli import main
from tests.conftest import data_path


def _eval(capsys, *argv) -> dict:
    code = main(["eval", "--json", *argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_det_and_kie_through_the_gateway_match_in_process(gateway, capsys):
    url = str(gateway.base_url)
    det = ["--data", str(data_path("mmocr", "0.x", "toy_dataset", "instances_test.json")), "--format", "coco",
           "--task", "det", "--limit", "1"]
    remote, local = _eval(capsys, "--url", url, *det), _eval(capsys, *det)
    assert remote["per_thr"] == local["per_thr"] and remote["det"]["hmean"] > 0.5
    kie = ["--data", str(data_path("mmocr", "main", "kie_toy_dataset", "wildreceipt", "data.txt")),
           "--format", "wildreceipt", "--task", "kie"]
    remote, local = _eval(capsys, "--url", url, *kie), _eval(capsys, *kie)
    assert remote["kie"] == local["kie"] and remote["receipts"] == 2 and remote["kie"]["macro_f1"] > 0.2
