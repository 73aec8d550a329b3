"""The optional context network of an SDMG-R archive (handlers/predictors/kie_context.py): its
features on a small receipt, and a network trained on a rule SDMG-R does not know (the largest
amount is the total) relabelling served boxes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from handlers.predictors.kie_context import (amount_value, context_features, feature_count, neighbours,
                                             train_context_network)
from service.tooling.cli import main as cli_main
from tests.conftest import handle_rows
from tests.handlers.checkpoints import private_zoo, unpacked_handler

CLASSES = ["Ignore", "Total_key", "Total_value", "Others"]
VALUES = [2]  # the *_value classes of CLASSES


def test_neighbours_and_amount_features():
    texts = ["TOTAL", "12.50", "CASH", "$20.00", "Thank you"]
    boxes = np.array([[10, 10, 60, 30], [200, 12, 260, 30],
                      [10, 50, 60, 70], [200, 52, 260, 70],
                      [40, 100, 240, 130]], np.float32)
    left, right, up, down = neighbours(boxes)
    assert left.tolist() == [-1, 0, -1, 2, -1] and right.tolist() == [1, -1, 3, -1, -1]
    assert up.tolist() == [-1, -1, 0, 1, 3] and down.tolist() == [2, 3, 4, 4, -1]
    assert [amount_value(t) for t in texts] == [None, 12.5, None, 20.0, None]
    assert amount_value("RM1,234.50") == 1234.5 and amount_value("12,50") == 12.5
    prob = np.full((5, 4), 0.25, np.float32)
    features = context_features(prob, boxes, texts, (200, 300), VALUES)
    assert features.shape == (5, feature_count(4, 1))
    amount = features[:, 3 * 4: 3 * 4 + 7]  # after own, left and right log-probabilities
    assert amount[:, 0].tolist() == [0, 1, 0, 1, 0]                     # an amount
    assert amount[[1, 3], 3].tolist() == [0, 1]                          # the largest one
    assert amount[[1, 3], 2].tolist() == [0.5, 0.0]                      # its rank among the amounts
    assert amount[1, 6] == pytest.approx(12.5 / 20.0)


def _receipt(rng: np.random.Generator, lines: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """A key and an amount per line; the largest amount is labelled the total, the rest Others."""
    amounts = rng.choice(np.arange(100, 9000), lines, replace=False) / 100
    texts, boxes, labels = [], [], []
    for i, amount in enumerate(amounts):
        y = 20 + 30 * i
        texts += [rng.choice(["TOTAL", "CASH", "CHANGE", "ITEM"]), f"{amount:.2f}"]
        boxes += [[10, y, 70, y + 20], [200, y, 260, y + 20]]
        labels += [3, 2 if amount == amounts.max() else 3]
    return np.array(boxes, np.float32), texts, np.array(labels)


def test_a_context_network_relabels_the_served_boxes(tmp_path):
    from handlers.api.spec import ModelSpec
    from handlers.families.kie.text_encoding import KIEDictionary
    from handlers.kie import KIEHandler
    from handlers.predictors.sdmgr import build_network

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    dict_file = tmp_path / "dict.txt"
    dict_file.write_text("\n".join("0123456789.$TOALCSHNGEIM") + "\n")
    checkpoint = tmp_path / "own.pth"
    torch.save({"state_dict": build_network("sdmgr_novisual_60e_wildreceipt", 4,
                                            KIEDictionary.from_file(dict_file)).state_dict()}, checkpoint)
    class_list = tmp_path / "class_list.txt"
    class_list.write_text("".join(f"{i} {name}\n" for i, name in enumerate(CLASSES)))

    plain = KIEHandler()
    plain.load(ModelSpec("own", "kie", "sdmgr", "torch", checkpoint, {"arch": "sdmgr_novisual_60e_wildreceipt"},
                         {"class_list": class_list, "dict": dict_file}))
    # train on what the untrained SDMG-R says of 60 receipts: the rule is only in the context features
    features, labels = [], []
    for _ in range(60):
        boxes, texts, truth = _receipt(rng, int(rng.integers(2, 6)))
        prob, _ = plain.model.probabilities(_document(boxes, texts))
        features.append(context_features(prob, boxes, texts, (400, 300), VALUES))
        labels.append(truth)
    network = train_context_network(features, labels, len(CLASSES), epochs=60)
    torch.save(network.state_dict(), tmp_path / "context.pth")
    # served from an archive, as `ocrserve archive ... --context context.pth` makes it
    zoo_path = private_zoo(tmp_path)
    assert cli_main(["--zoo", str(zoo_path), "archive", "--arch", "sdmgr_novisual_60e_wildreceipt", "--checkpoint",
                     str(checkpoint), "--name", "ctx", "--class-list", str(class_list), "--dict", str(dict_file),
                     "--context", str(tmp_path / "context.pth"), "--store", str(tmp_path / "store")]) == 0
    served = unpacked_handler(tmp_path / "store" / "ctx.mar", tmp_path / "unpacked")

    hits = plain_hits = 0
    for _ in range(20):
        boxes, texts, truth = _receipt(rng, 4)
        rows = [{"body": {"instances": [{"box": b.tolist(), "text": t} for b, t in zip(boxes, texts)],
                          "width": 300, "height": 400}}]
        [body], ctx = handle_rows(served, rows)
        assert ctx.status == {}
        [plain_body] = plain.run_rows(rows)
        hits += [i["label_id"] for i in body["instances"]] == truth.tolist()
        plain_hits += [i["label_id"] for i in plain_body["instances"]] == truth.tolist()
    assert hits >= 18 and plain_hits == 0, (hits, plain_hits)


def test_a_context_file_for_other_classes_is_refused(tmp_path, capsys):
    from handlers.predictors.kie_context import ContextRelabeller, build_context_network

    torch.save(build_context_network(feature_count(5, 2), 5).state_dict(), tmp_path / "context.pth")
    with pytest.raises(ValueError, match="does not fit 4 classes"):
        ContextRelabeller(tmp_path / "context.pth", CLASSES)
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="junk.pth is not a saved state dict"):
        ContextRelabeller(tmp_path / "junk.pth", CLASSES)
    code = cli_main(["--zoo", str(private_zoo(tmp_path)), "archive", "--arch", "dbnet_resnet18_fpnc_1200e_icdar2015",
                     "--checkpoint", str(tmp_path / "context.pth"), "--name", "d", "--context",
                     str(tmp_path / "context.pth"), "--store", str(tmp_path)])
    assert code == 1 and "context do not apply to a det checkpoint" in capsys.readouterr().err


def _document(boxes, texts):
    from handlers.predictors.sdmgr import KIEDocument

    return KIEDocument(None, boxes, list(texts), (400, 300))
