"""Real receipt data for SDMG-R: the seeded split, SROIE lines mapped onto WildReceipt classes,
unlabelled boxes left out of the loss and the scores, and fine-tuning from a checkpoint."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from service.tooling.cli import main as ocrserve
from service.tooling.training.kie.dataset import UNLABELLED, KIEDocument, make_batch, read_annotations
from service.tooling.training.kie.evaluate import WILDRECEIPT_CLASSES, evaluate
from service.tooling.training.kie.losses import sdmgr_loss
from service.tooling.training.kie.real_data import read_sroie_lines, split_of, sroie_labels, sroie_record
from service.tooling.training.kie.train import TrainOptions, new_model
from tests.conftest import data_path

U = UNLABELLED
SPLIT = (("train", 0.7), ("val", 0.1), ("test", 0.2))


def test_split_is_seeded_stable_and_near_its_shares():
    names = [f"receipt_{i}.jpg" for i in range(2000)]
    parts = [split_of(n, 13, SPLIT) for n in names]
    assert parts == [split_of(n, 13, SPLIT) for n in reversed(names)][::-1]  # order-free
    shares = {p: parts.count(p) / len(parts) for p, _ in SPLIT}
    assert abs(shares["train"] - 0.7) < 0.04 and abs(shares["test"] - 0.2) < 0.04, shares
    other_seed = [split_of(n, 14, SPLIT) for n in names]
    assert sum(a != b for a, b in zip(parts, other_seed)) > 500


def test_sroie_lines_take_the_classes_of_the_keys_they_match():
    texts = ["TAN WOON YANN", "INDAH GIFT & HOME DECO", "27,JALAN DEDAP 13,", "TAMAN JOHOR JAYA,",
             "81100 JOHOR BAHRU,JOHOR.", "19/10/2018 20:49:59 #01", "TOTAL:", "RM 60.30", "CASH", "60.30",
             "THANK YOU"]
    keys = {"company": "INDAH GIFT & HOME DECO", "date": "19/10/2018",
            "address": "27, JALAN DEDAP 13, TAMAN JOHOR JAYA, 81100 JOHOR BAHRU, JOHOR.", "total": "60.30"}
    assert sroie_labels(texts, keys) == [U, 1, 3, 3, 3, 7, U, 23, U, 23, U]
    # a run is only taken when it joins to the whole key; a partial name is no store name
    assert sroie_labels(["INDAH GIFT"], {"company": "INDAH GIFT & HOME DECO"}) == [U]


def test_sroie_csv_texts_keep_their_commas_and_real_receipts_map(tmp_path):
    rows = read_sroie_lines("\ufeff1,2,3,2,3,4,1,4,27, JALAN DEDAP 13,\n5,6,7,6,7,8,5,8,\n")
    assert rows == [([1.0, 2.0, 3.0, 2.0, 3.0, 4.0, 1.0, 4.0], "27, JALAN DEDAP 13,")]
    root = data_path("sroie2019_train")
    rec = sroie_record(root / "box" / "001.csv", root / "key" / "001.json", root / "img" / "001.jpg")
    labels = [a["label"] for a in rec["annotations"]]
    assert {1, 3, 7, 23} <= set(labels) and labels.count(U) > len(labels) / 2


def _doc(labels):
    n = len(labels)
    return KIEDocument(image_path=None, height=200, width=200,
                       boxes=np.array([[10, 10 + 20 * i, 150, 25 + 20 * i] for i in range(n)], dtype=np.int32),
                       texts=[f"LINE{i}" for i in range(n)], labels=np.array(labels, dtype=np.int64),
                       edge_ids=np.zeros(n, dtype=np.int64))


def test_unlabelled_boxes_feed_the_graph_but_not_the_loss_nor_the_score(tmp_path):
    model = new_model(TrainOptions(seed=0), 26)
    full, part = _doc([1, 3, 25, 23]), _doc([1, U, U, 23])
    node, edge = model(None, make_batch([part]).boxes, make_batch([part]).texts)
    got = sdmgr_loss(node, edge, make_batch([part]).node_targets, make_batch([part]).edge_targets)
    want = torch.nn.functional.cross_entropy(node[[0, 3]], torch.tensor([1, 23]))
    assert torch.allclose(got["loss_node"], want)
    report = evaluate(model, [part], list(WILDRECEIPT_CLASSES))
    assert report["boxes"] == 2 and evaluate(model, [full], list(WILDRECEIPT_CLASSES))["boxes"] == 4
    anns = [{"box": [0, 0, 5, 0, 5, 5, 0, 5], "text": "A", "label": lab} for lab in (1, U)]
    (tmp_path / "a.txt").write_text(json.dumps({"file_name": "x.jpg", "height": 9, "width": 9, "annotations": anns}))
    assert read_annotations(tmp_path / "a.txt", num_classes=26)[0].labels.tolist() == [1, U]
    anns[1]["label"] = -1
    (tmp_path / "a.txt").write_text(json.dumps({"file_name": "x.jpg", "height": 9, "width": 9, "annotations": anns}))
    with pytest.raises(ValueError, match="unlabelled"):
        read_annotations(tmp_path / "a.txt", num_classes=26)


def test_init_fine_tunes_from_a_checkpoint_and_refuses_a_misfit(tmp_path, capsys):
    anns = [{"box": [10, 10 + 20 * i, 150, 10 + 20 * i, 150, 25 + 20 * i, 10, 25 + 20 * i],
             "text": t, "label": lab} for i, (t, lab) in enumerate([("SHOP", 1), ("TOTAL", 24), ("9.00", 23)])]
    (tmp_path / "train.txt").write_text(json.dumps({"file_name": "x.jpg", "height": 200, "width": 200,
                                                    "annotations": anns}) + "\n")
    (tmp_path / "class_list.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(WILDRECEIPT_CLASSES)))
    base = ["train", "kie", "--data", str(tmp_path), "--epochs", "1", "--seed", "0"]
    assert ocrserve([*base, "--out", str(tmp_path / "a")]) == 0
    assert ocrserve([*base, "--out", str(tmp_path / "b"), "--init", str(tmp_path / "a" / "sdmgr.pth")]) == 0
    a = torch.load(tmp_path / "a" / "sdmgr.pth", weights_only=True)
    b = torch.load(tmp_path / "b" / "sdmgr.pth", weights_only=True)
    assert b["meta"]["init"].endswith("a/sdmgr.pth")
    # training is deterministic: without --init, b would be a's seed-0 run again, bit for bit
    assert any(not torch.equal(v, b["state_dict"][k]) for k, v in a["state_dict"].items())
    (tmp_path / "c").mkdir()
    (tmp_path / "class_list.txt").write_text("0 Ignore\n1 Total_value\n2 Others\n")
    for k, lab in ((1, 1), (2, 0)):
        anns[k]["label"] = lab
    (tmp_path / "train.txt").write_text(json.dumps({"file_name": "x.jpg", "height": 200, "width": 200,
                                                    "annotations": anns}) + "\n")
    capsys.readouterr()
    assert ocrserve([*base, "--out", str(tmp_path / "c"), "--init", str(tmp_path / "a" / "sdmgr.pth")]) == 2
    assert "does not fit this model" in capsys.readouterr().err
