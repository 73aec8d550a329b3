"""SDMG-R training: loss semantics, real optimisation steps, determinism, checkpoint round trip
(also through the serving loader) and the `ocrserve train kie` command line."""
from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from service.tooling.cli import main as ocrserve
from service.tooling.training.kie.checkpoint import load_checkpoint, save_checkpoint
from service.tooling.training.kie.dataset import KIEDocument, make_batch
from service.tooling.training.kie.evaluate import WILDRECEIPT_CLASSES
from service.tooling.training.kie.losses import sdmgr_loss
from service.tooling.training.kie.train import RECEIPT_CHARS, TrainOptions, new_model, train, train_step

CLASSES = list(WILDRECEIPT_CLASSES)
# (text, label, box) rows of two tiny receipts: store name, address, date key/value, total key/value
RECEIPTS = [
    [("CORNERSHOP", 1, [40, 10, 200, 40]), ("12MainSt", 3, [50, 45, 190, 65]),
     ("Date:", 8, [10, 80, 60, 100]), ("01/02/2024", 7, [70, 80, 170, 100]),
     ("Milk", 11, [10, 120, 80, 140]), ("$2.50", 15, [180, 120, 230, 140]),
     ("TOTAL", 24, [10, 160, 80, 180]), ("$2.50", 23, [180, 160, 230, 180])],
    [("BIGMART", 1, [60, 12, 180, 42]), ("9OakAve", 3, [55, 48, 185, 66]),
     ("Bread", 11, [12, 110, 90, 130]), ("$3.10", 15, [170, 110, 228, 130]),
     ("Total", 24, [12, 150, 75, 170]), ("$3.10", 23, [170, 150, 228, 170]),
     ("Thanks!", 25, [70, 200, 160, 220])],
]


def _docs() -> list[KIEDocument]:
    docs = []
    for rows in RECEIPTS:
        docs.append(KIEDocument(image_path=None, height=240, width=240,
                                boxes=np.array([r[2] for r in rows], dtype=np.int32),
                                texts=[r[0] for r in rows],
                                labels=np.array([r[1] for r in rows], dtype=np.int64),
                                edge_ids=np.zeros(len(rows), dtype=np.int64)))
    return docs


def _write_ann(path, docs):
    lines = []
    for i, d in enumerate(docs):
        anns = [{"box": [b[0], b[1], b[2], b[1], b[2], b[3], b[0], b[3]], "text": t, "label": int(lab)}
                for b, t, lab in zip(d.boxes.tolist(), d.texts, d.labels)]
        lines.append(json.dumps({"file_name": f"{i}.jpg", "height": 240, "width": 240, "annotations": anns}))
    path.write_text("\n".join(lines) + "\n")
    (path.parent / "class_list.txt").write_text("".join(f"{i} {n}\t\n" for i, n in enumerate(CLASSES)))


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_loss_is_mmocr_cross_entropies():
    torch.manual_seed(0)
    node, edge = torch.randn(5, 26), torch.randn(9, 2)
    node_t = torch.tensor([0, 3, 25, 7, 7])
    edge_t = torch.tensor([-1, 1, 0, 1, -1, 1, 0, 0, -1])
    got = sdmgr_loss(node, edge, node_t, edge_t)
    want_node = -F.log_softmax(node, -1)[torch.arange(5), node_t].mean()  # class 0 counts
    keep = edge_t != -1
    want_edge = -F.log_softmax(edge[keep], -1)[torch.arange(6), edge_t[keep]].mean()
    assert torch.allclose(got["loss_node"], want_node) and torch.allclose(got["loss_edge"], want_edge)
    assert torch.allclose(got["loss"], want_node + want_edge)
    assert 0 <= float(got["acc_node"]) <= 100


def test_steps_lower_the_loss_and_training_is_deterministic():
    docs = _docs()
    opts = TrainOptions(seed=3)
    losses = []
    for _ in range(2):
        model = new_model(opts, 26)
        optim = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
        losses.append([train_step(model, optim, docs)["loss"] for _ in range(12)])
    first, second = losses
    assert first == second  # same seed, one thread: the same numbers
    assert first[-1] < 0.5 * first[0], first
    batch = make_batch(docs)
    with torch.no_grad():
        pred = torch.cat([p["labels"] for p in model.eval().predict(None, batch.boxes, batch.texts)])
    assert (pred == batch.node_targets).float().mean() > 0.5


def test_schedule_steps_scale_with_epochs():
    assert TrainOptions(epochs=60).steps() == [40, 50]
    assert TrainOptions(epochs=12).steps() == [8, 10]
    assert TrainOptions(epochs=12, milestones=[3]).steps() == [3]


def test_checkpoint_round_trip_strict_and_through_the_serving_loader(tmp_path):
    docs = _docs()
    model = new_model(TrainOptions(epochs=1, seed=1), 26)
    history = train(model, docs, TrainOptions(epochs=1, seed=1), CLASSES, val_docs=docs)
    assert 0.0 <= history[0].val["macro_f1"] <= 1.0 and history[0].loss > 0
    assert sys.float_info.min / 2 > 0, "training left this process flushing subnormal floats to zero"
    path = save_checkpoint(tmp_path, model, CLASSES, {"arch": "sdmgr_novisual_60e_wildreceipt"})
    saved = torch.load(path, weights_only=True)
    assert set(saved) == {"state_dict", "meta"}
    assert set(saved["state_dict"]) == set(model.state_dict())
    assert all(v.dtype == torch.float32 for v in saved["state_dict"].values() if v.is_floating_point())
    assert (tmp_path / "dict.txt").read_text().split("\n")[:-1] == list(RECEIPT_CHARS)
    loaded, classes, meta = load_checkpoint(path)
    assert classes == CLASSES and meta["arch"] == "sdmgr_novisual_60e_wildreceipt"
    batch = make_batch(docs)
    with torch.no_grad():
        a = model.eval()(None, batch.boxes, batch.texts)
        b = loaded(None, batch.boxes, batch.texts)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    from handlers.families.kie.text_encoding import KIEDictionary
    from handlers.predictors.sdmgr import build_network
    from handlers.runtime import load_checkpoint_runner

    net = build_network(meta["arch"], 26, KIEDictionary.from_file(tmp_path / "dict.txt"))
    runner = load_checkpoint_runner(net, path)  # strict
    with torch.no_grad():
        c = runner.module(None, batch.boxes, batch.texts)
    assert torch.equal(a[0], c[0])


def test_cli_trains_then_evaluates(tmp_path, capsys):
    _write_ann(tmp_path / "train.txt", _docs())
    out = tmp_path / "model"
    assert ocrserve(["train", "kie", "--data", str(tmp_path), "--val-ann", "train.txt", "--epochs", "2",
                     "--seed", "0", "--out", str(out)]) == 0
    log = capsys.readouterr().out
    assert "epoch   1  loss" in log and "epoch   2  loss" in log and "val macro-F1" in log
    assert {p.name for p in out.iterdir()} == {"sdmgr.pth", "class_list.txt", "dict.txt"}
    assert ocrserve(["train", "kie", "--eval-only", "--checkpoint", str(out / "sdmgr.pth"),
                     "--data", str(tmp_path), "--ann", "train.txt", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["receipts"] == 2 and report["boxes"] == 15 and len(report["cared"]) == 12
    assert report["per_class"]["Total_value"]["support"] == 2
    assert 0.0 <= report["macro_f1"] <= 1.0


def test_training_and_evaluation_give_back_the_callers_thread_count(tmp_path, capsys):
    """Both set their own torch thread count (one by default); an in-process caller keeps its own."""
    _write_ann(tmp_path / "train.txt", _docs())
    out, before = tmp_path / "model", torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        assert ocrserve(["train", "kie", "--data", str(tmp_path), "--epochs", "1", "--out", str(out)]) == 0
        assert torch.get_num_threads() == 3
        assert ocrserve(["train", "kie", "--eval-only", "--checkpoint", str(out / "sdmgr.pth"),
                         "--data", str(tmp_path), "--ann", "train.txt"]) == 0
        assert torch.get_num_threads() == 3
        train(new_model(TrainOptions(epochs=1), 26), _docs(), TrainOptions(epochs=1), CLASSES)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "2"], "training needs --out DIR"),
    (["--out", "{tmp}/o", "--variant", "big"], "unknown SDMG-R variant 'big'; supported: ['novisual', 'unet16']"),
    (["--out", "{tmp}/o", "--epochs", "0"], "--epochs and --batch-size must be at least 1"),
    (["--out", "{tmp}/o", "--ann", "nope.txt"], "no annotation file"),
    (["--out", "{tmp}/o", "--dict", "{tmp}/none.txt"], "--dict {tmp}/none.txt does not exist"),
    (["--eval-only"], "--eval-only needs --checkpoint FILE"),
])
def test_cli_errors_are_clear(tmp_path, capsys, argv, message):
    _write_ann(tmp_path / "train.txt", _docs())
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert ocrserve(["train", "kie", "--data", str(tmp_path), *argv]) == 2
    assert message.replace("{tmp}", str(tmp_path)) in capsys.readouterr().err


def test_cli_missing_data_folder(tmp_path, capsys):
    assert ocrserve(["train", "kie", "--data", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert "is not a folder" in capsys.readouterr().err


# the shipped model's macro-F1 on the validation part of the WildReceipt subset (ground-truth
# boxes; seed-13 split of bench/kie_prepare_real.py; 0.947, a training figure since stage 5 trains on
# all 372 receipts; stage 3, which never saw them, 0.7763): the floor leaves room for other CPUs and
# thread counts, and fails the synthetic-only model (0.568 there)
SHIPPED_VAL_MACRO_F1_FLOOR = 0.70


def test_shipped_receipt_model_reads_real_receipts(tmp_path):
    from pathlib import Path

    from service.tooling.training.kie.dataset import read_annotations
    from service.tooling.training.kie.evaluate import evaluate
    from service.tooling.training.kie.real_data import split_of
    from tests.conftest import data_path

    root = Path(__file__).resolve().parents[4]
    subset = data_path("wildreceipt_subset", "annotations.txt")
    model, classes, meta = load_checkpoint(root / "model_store" / "weights" / "sdmgr-receipts" / "sdmgr.pth")
    assert classes == CLASSES and meta["arch"] == "sdmgr_novisual_60e_wildreceipt"
    assert model.kie_head.node_embed.num_embeddings == len(RECEIPT_CHARS) + 1
    val = [line for line in subset.read_text().splitlines()
           if line.strip() and split_of(json.loads(line)["file_name"], 13, VAL_SPLIT) == "val"]
    (tmp_path / "val.txt").write_text("\n".join(val) + "\n")
    docs = read_annotations(tmp_path / "val.txt", subset.parent, num_classes=26)
    assert len(docs) == 29
    report = evaluate(model, docs, classes)
    assert report["macro_f1"] > SHIPPED_VAL_MACRO_F1_FLOOR, report["macro_f1"]
    # the shipped model (a soup of three stage-5 runs) trained on these 29 receipts too (all 372 of the subset):
    # 0.98 / 0.99 / 0.94, macro 0.932 (one stage-5 run alone 1.00 / 0.99 / 0.97, 0.947); stage 3, which never saw
    # them, 0.95 / 0.91 / 0.75 (macro 0.776); synthetic-only 0.76 / 0.71 / 0.14:
    # the floors tell a real-receipt model from the synthetic one, not a held-out accuracy
    for name, floor in (("Date_value", 0.8), ("Prod_item_value", 0.85), ("Total_value", 0.65)):
        assert report["per_class"][name]["f1"] > floor, (name, report["per_class"][name])


VAL_SPLIT = (("train", 0.7), ("val", 0.1), ("test", 0.2))


def test_augmentation_is_seeded_and_keeps_labels():
    from service.tooling.training.kie.augment import augment, jitter_boxes, noisy_text

    doc = _docs()[0]
    assert augment(doc, np.random.default_rng(0)) is doc  # off by default
    a = augment(doc, np.random.default_rng(5), 0.2, 1.0, list(RECEIPT_CHARS))
    b = augment(doc, np.random.default_rng(5), 0.2, 1.0, list(RECEIPT_CHARS))
    assert np.array_equal(a.boxes, b.boxes) and a.texts == b.texts
    assert np.array_equal(a.labels, doc.labels) and a.texts != doc.texts and not np.array_equal(a.boxes, doc.boxes)
    assert doc.texts[0] == "CORNERSHOP"  # the original is not touched
    assert all(abs(len(x) - len(y)) <= 1 for x, y in zip(a.texts, doc.texts))
    boxes = jitter_boxes(doc.boxes, 1.0, np.random.default_rng(1))
    assert (boxes[:, 2] >= boxes[:, 0]).all() and (boxes[:, 3] >= boxes[:, 1]).all() and (boxes >= 0).all()
    h = doc.boxes[:, 3] - doc.boxes[:, 1]
    moved = np.abs(jitter_boxes(doc.boxes, 0.05, np.random.default_rng(2)) - doc.boxes)
    assert (moved <= np.ceil(0.05 * h * 5)[:, None]).all()  # within 5 sigma of 5% of the height
    assert noisy_text("", "ab", np.random.default_rng(0)) == ""


def test_swaps_take_same_class_texts_of_other_receipts_and_leave_amounts_and_others():
    from service.tooling.training.kie.augment import augment, is_amount, swapped_text, text_pools

    docs = _docs()
    pools = text_pools(docs, CLASSES)
    # keys and values only, amounts out: Others ("Thanks!") and the prices / totals have no pool
    assert pools == {1: ["CORNERSHOP", "BIGMART"], 3: ["12MainSt", "9OakAve"], 8: ["Date:"],
                     7: ["01/02/2024"], 11: ["Milk", "Bread"], 24: ["TOTAL", "Total"]}
    assert all(is_amount(t) for t in ("$2.50", ".74", "11,50", "108.85-")) and not is_amount("01/02/24")
    doc = docs[1]
    assert augment(doc, np.random.default_rng(0), swap=1.0) is doc  # no pools: off
    seen = set()
    for seed in range(40):
        a = augment(doc, np.random.default_rng(seed), swap=1.0, pools=pools)
        assert np.array_equal(a.labels, doc.labels) and np.array_equal(a.boxes, doc.boxes)
        for old, new, label in zip(doc.texts, a.texts, doc.labels.tolist()):
            assert new == old or new in pools[label]  # only a text of its own class
            if label in (15, 23, 25):
                assert new == old  # amounts and Others stay
            if new != old:
                seen.add((old, new))
                assert 2 / 3 * len(old) <= len(new) <= 3 / 2 * len(old)
    # each of receipt 1's key / value texts is swapped for the other receipt's text of its class
    assert seen == {("BIGMART", "CORNERSHOP"), ("9OakAve", "12MainSt"), ("Bread", "Milk"), ("Total", "TOTAL")}
    assert doc.texts[0] == "BIGMART"
    rng = np.random.default_rng(0)
    assert swapped_text("Milk", ["SEMISKIMMEDMILK2L"], rng) == "Milk"  # far longer: kept
    dotted = dataclasses.replace(docs[0], texts=[t.replace("01/02/2024", "01.02.24") for t in docs[0].texts])
    assert augment(dotted, rng, swap=1.0, pools=pools).texts[3] == "01.02.24"  # reads as an amount: kept
    assert swapped_text("SEMISKIMMEDMILK2L", ["Milk", "SKIMMEDMILK2L"], rng) == "SKIMMEDMILK2L"
    a, b = (augment(doc, np.random.default_rng(7), swap=0.5, pools=pools) for _ in range(2))
    assert a.texts == b.texts


def test_rare_classes_weigh_more_and_training_with_noise_is_deterministic():
    from service.tooling.training.kie.train import class_weights

    docs = _docs()
    assert class_weights(docs, 26, 0.0) is None
    # boxes per class: 2 for store name, address, item, price, total key / value; 1 for the date
    # key / value and Others: median 2, so those three weigh (2/1)^p, the rest (and absent) 1
    rare = {7, 8, 25}
    for power, want in ((1.0, 2.0), (0.5, 2 ** 0.5), (10.0, 10.0)):  # 2^10 is capped at 10
        w = class_weights(docs, 26, power)
        assert [c for c in range(26) if w[c] != 1] == sorted(rare)
        assert all(float(w[c]) == pytest.approx(want) for c in rare)
    opts = TrainOptions(epochs=2, seed=4, box_jitter=0.1, text_noise=0.5, rare_class_power=0.5, swap_texts=0.5)
    runs = []
    for _ in range(2):
        model = new_model(opts, 26)
        runs.append([e.loss for e in train(model, _docs(), opts, CLASSES)])
    assert runs[0] == runs[1]
    plain = new_model(TrainOptions(seed=4), 26)
    assert [e.loss for e in train(plain, _docs(), TrainOptions(epochs=2, seed=4), CLASSES)] != runs[0]


def test_cli_saves_every_epoch_with_augmentation(tmp_path, capsys):
    _write_ann(tmp_path / "train.txt", _docs())
    out = tmp_path / "model"
    assert ocrserve(["train", "kie", "--data", str(tmp_path), "--epochs", "2", "--out", str(out),
                     "--box-jitter", "0.05", "--text-noise", "0.1", "--rare-class-power", "0.5",
                     "--swap-texts", "0.3", "--save-every-epoch"]) == 0
    assert {p.name for p in out.iterdir()} >= {"epoch_001.pth", "epoch_002.pth", "sdmgr.pth"}
    meta = torch.load(out / "sdmgr.pth", weights_only=True)["meta"]
    assert meta["train"]["box_jitter"] == 0.05 and meta["train"]["rare_class_power"] == 0.5
    assert meta["train"]["swap_texts"] == 0.3
    last, final = (torch.load(out / n, weights_only=True)["state_dict"] for n in ("epoch_002.pth", "sdmgr.pth"))
    assert all(torch.equal(last[k], final[k]) for k in final)


def test_class_weight_is_a_weighted_mean_of_the_node_loss():
    torch.manual_seed(0)
    node, edge = torch.randn(4, 26), torch.randn(4, 2)
    node_t, edge_t = torch.tensor([1, 21, 21, -100]), torch.tensor([-1, 1, 1, -1])
    weight = torch.ones(26)
    weight[21] = 3.0
    got = sdmgr_loss(node, edge, node_t, edge_t, class_weight=weight)["loss_node"]
    nll = -F.log_softmax(node, -1)[torch.arange(3), node_t[:3]]
    assert torch.allclose(got, (nll[0] + 3 * nll[1] + 3 * nll[2]) / 7)
    assert not torch.allclose(got, sdmgr_loss(node, edge, node_t, edge_t)["loss_node"])
