"""`ocrserve eval --format ... --task ...` in-process on small samples of the shared data."""
from __future__ import annotations

import json

import pytest

from service.tooling.cli import main
from tests.conftest import data_path, eval_json


def test_det_reports_agree_across_formats_and_sweep_thresholds(capsys, weights_ready):
    toy = data_path("mmocr", "0.x", "toy_dataset")
    icdar = eval_json(capsys, "--data", str(toy), "--format", "icdar", "--task", "det", "--limit", "2")
    coco = eval_json(capsys, "--data", str(toy / "instances_test.json"), "--format", "coco", "--task", "det",
                 "--limit", "2")
    assert icdar["det"] == coco["det"] and icdar["per_thr"] == coco["per_thr"] and icdar["images"] == 2
    assert [round(r["thr"], 1) for r in icdar["per_thr"]] == [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    recalls = [r["recall"] for r in icdar["per_thr"]]
    assert recalls == sorted(recalls, reverse=True) and recalls[0] > recalls[-1]  # a real sweep
    assert 0.5 < icdar["det"]["hmean"] <= 1


def test_rec_reports_agree_between_lmdb_and_label_txt(capsys, weights_ready, tmp_path):
    lmdb = eval_json(capsys, "--data", str(data_path("mmocr", "main", "rec_toy_dataset", "imgs.lmdb")),
                 "--format", "lmdb", "--task", "rec", "--report", str(tmp_path / "r.json"))
    txt = eval_json(capsys, "--data", str(data_path("mmocr", "0.x", "ocr_toy_dataset", "label.txt")),
                "--format", "label-txt", "--task", "rec")
    metrics = ("word_acc", "word_acc_ignore_case", "word_acc_ignore_case_symbol", "char_recall",
               "char_precision", "1-N.E.D")
    assert {k: lmdb[k] for k in metrics} == {k: txt[k] for k in metrics} and lmdb["words"] == 10
    assert lmdb["word_acc"] <= lmdb["word_acc_ignore_case"] <= lmdb["word_acc_ignore_case_symbol"]
    assert 0.5 <= lmdb["word_acc"] < 1 and lmdb["1-N.E.D"] > 0.8
    assert json.loads((tmp_path / "r.json").read_text()) == lmdb


def test_e2e_on_the_real_icdar_training_set(capsys, weights_ready):
    report = eval_json(capsys, "--data", str(data_path("icdar2015_train")), "--format", "icdar", "--task", "e2e",
                   "--limit", "2")
    assert report["images"] == 2 and report["e2e"]["gt_num"] > 0
    assert 0 < report["det_word"]["hmean"] <= 1 and 0 <= report["e2e"]["hmean"] <= report["det_word"]["hmean"]


def test_kie_macro_f1_on_real_receipts(capsys, weights_ready):
    report = eval_json(capsys, "--data", str(data_path("wildreceipt_subset", "annotations.txt")),
                   "--format", "wildreceipt", "--task", "kie", "--limit", "3")
    assert report["receipts"] == 3 and report["boxes"] > 30
    assert "Store_name_key" in report["ignored_classes"] and "Total_value" not in report["ignored_classes"]
    assert 0.2 < report["kie"]["macro_f1"] <= 1 and 0.2 < report["kie"]["micro_f1"] <= 1


@pytest.mark.parametrize("argv, message", [
    (["--format", "lmdb", "--task", "det"], "reads --format icdar"),
    (["--format", "coco", "--task", "e2e"], "no transcriptions"),
    (["--format", "cluener", "--task", "ner"], "POST /ner"),
    (["--format", "coco"], "go together"),
])
def test_bad_combinations_are_refused_clearly(capsys, tmp_path, argv, message):
    data = data_path("mmocr", "0.x", "toy_dataset", "instances_test.json")
    if "cluener" in argv:
        data = tmp_path / "dev.json"
        data.write_text(json.dumps({"text": "叶老桂", "label": {"name": {"叶老桂": [[0, 2]]}}}, ensure_ascii=False))
    code = main(["eval", "--data", str(data), *argv])
    assert code != 0 and message in capsys.readouterr().err
