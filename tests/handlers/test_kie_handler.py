"""The KIE handler called as TorchServe calls it (fake context), on archives of the oracle's SDMG-R
weights; the pure pairing / class-list code directly."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from handlers.api.class_list import read_class_list
from handlers.predictors.sdmgr import (KEY_SEEN, KIEDocument, SDMGRConfig, SDMGRExtractor, key_value_fields,
                                       keyless_values, link_pairs, values_right_of_keys)
from handlers.ts_entry import OcrServeEntry
from service.tooling.packaging.archive import build_checkpoint_archive
from service.tooling.cli import main as cli_main
from tests.conftest import FakeContext, data_path, handle_rows
from tests.oracle import ORACLE, save_checkpoint
from tests.handlers.checkpoints import private_zoo, unpacked_handler

NOVISUAL = "sdmgr_novisual_60e_wildreceipt"
VISUAL = "sdmgr_unet16_60e_wildreceipt"
RECEIPTS = ("mmocr", "main", "kie_toy_dataset", "wildreceipt")
# the oracle's KIE input (README): boxes in a 256 x 256 frame, texts with characters outside the dict
ORACLE_BOXES = [[10, 12, 90, 40], [100, 12, 200, 40], [10, 60, 120, 90], [130, 60, 240, 95], [20, 150, 230, 200]]
ORACLE_TEXTS = ["Total", "$12.50", "Store: ACME", "2023-01-05", "Thank you!"]


def kie_files() -> dict[str, Path]:
    """MMOCR's WildReceipt class list and SDMG-R dictionary, as a user passes them to `archive`."""
    dictionary = ORACLE / "dicts" / "sdmgr_dict.txt"
    if not dictionary.is_file():
        pytest.skip(f"MMOCR oracle not available at {ORACLE}")
    return {"class_list": data_path(*RECEIPTS, "class_list.txt"), "dict": dictionary}


def kie_archive(name: str, arch: str, root: Path) -> tuple[Path, Path]:
    """Archive the oracle's weights of `arch` in `root`; returns (the .mar, the private zoo path)."""
    checkpoint = save_checkpoint(arch, root / f"{arch}.pth")
    zoo_path = private_zoo(root)
    mar = build_checkpoint_archive(name, arch, checkpoint, store=root / "store", zoo_path=zoo_path, files=kie_files())
    return mar, zoo_path


def receipt(index: int = 0) -> tuple[bytes, list[dict]]:
    """A WildReceipt image and its ground-truth instances (8-number boxes, texts, labels)."""
    lines = data_path(*RECEIPTS, "data.txt").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[index])
    image = data_path(*RECEIPTS, Path(record["file_name"]).name).read_bytes()
    return image, record["annotations"]


def _served(mar: Path, root: Path) -> OcrServeEntry:
    return unpacked_handler(mar, root / f"unpacked-{mar.stem}")


@pytest.fixture(scope="module")
def novisual(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("kie-novisual")
    return _served(kie_archive("kie-nv", NOVISUAL, root)[0], root)


@pytest.fixture(scope="module")
def visual(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("kie-visual")
    return _served(kie_archive("kie-v", VISUAL, root)[0], root)


def _instances(boxes, texts):
    return [{"box": b, "text": t} for b, t in zip(boxes, texts)]


def test_novisual_matches_the_oracle_through_the_handler(novisual):
    # a 512 x 512 document is not resized by Resize(1024, 512), so the boxes reach the net as in the oracle
    oracle = torch.load(ORACLE / "models" / f"{NOVISUAL}.outputs.pt")["pred"]
    row = {"body": {"instances": _instances(ORACLE_BOXES, ORACLE_TEXTS), "width": 512, "height": 512}}
    [body], ctx = handle_rows(novisual, [row])
    assert ctx.status == {}
    assert [i["label_id"] for i in body["instances"]] == [int(v) for v in oracle["labels"]] == [4, 4, 4, 21, 14]
    assert body["instances"][0]["label"] == "Store_addr_key" and body["instances"][3]["label"] == "Tips_value"
    assert np.allclose([i["label_score"] for i in body["instances"]], [float(v) for v in oracle["scores"]], atol=1e-5)
    assert body["pairs"] == []  # every oracle edge label is 0 ("not linked")


def test_visual_model_labels_every_box_of_a_real_receipt(visual):
    image, annotations = receipt()
    classes = read_class_list(kie_files()["class_list"])
    row = {"body": {"image": base64.b64encode(image).decode(), "instances": _instances(
        [a["box"] for a in annotations], [a["text"] for a in annotations])}}
    [body], ctx = handle_rows(visual, [row])
    assert ctx.status == {}
    assert len(body["instances"]) == len(annotations) == 60
    for item in body["instances"]:
        assert classes[item["label_id"]] == item["label"] and 0 < item["label_score"] <= 1
    multipart = {"image": bytearray(image), "instances": json.dumps(row["body"]["instances"]).encode()}
    [again], _ = handle_rows(visual, [multipart])
    assert again == body


def test_visual_model_without_image_is_a_400(visual):
    [body], ctx = handle_rows(visual, [{"body": {"instances": _instances(ORACLE_BOXES, ORACLE_TEXTS)}}])
    assert ctx.status[0][0] == 400 and "image" in body["message"]


@pytest.mark.parametrize("body, status, words", [
    ({"image_only": True}, 400, "instances"),
    ({"instances": {"box": [1, 2, 3, 4]}}, 400, "list"),
    ({"instances": [{"box": [1, 2, 3, 4]}]}, 400, "no text"),
    ({"instances": [{"text": "a"}]}, 400, "no box"),
    ({"instances": [{"box": [1, 2, 3], "text": "a"}]}, 400, "got 3 numbers"),
    ({"instances": [{"box": [1, 2, "3", 4], "text": "a"}]}, 400, "box must be"),
    ({"instances": [{"box": [0, 0, 10, 10], "text": "a"}] * 1000}, 413, "limit of 300"),
    ({"instances": [{"box": [0, 0, 10, 10], "text": "a"}], "width": 0, "height": 5}, 400, "width and height"),
])
def test_bad_rows_fail_alone(novisual, body, status, words):
    good = {"body": {"instances": _instances(ORACLE_BOXES, ORACLE_TEXTS), "width": 512, "height": 512}}
    results, ctx = handle_rows(novisual, [good, {"body": body}, good])
    assert ctx.status[1][0] == status and words in results[1]["message"], results[1]
    assert 0 not in ctx.status and 2 not in ctx.status
    assert results[0] == results[2] and len(results[0]["instances"]) == 5


def test_zero_boxes_is_an_empty_result(novisual):
    [body], ctx = handle_rows(novisual, [{"body": {"instances": []}}])
    assert ctx.status == {} and body == {"instances": [], "pairs": []}


def test_characters_outside_the_dict_are_dropped(novisual):
    # space and umlaut are not in sdmgr_dict.txt: MMOCR drops them, so these documents are the same
    spaced = ["T o t a l", "$12.50", "Störe: ACME", "2023-01-05", "Thänk yöu!"]
    kept = ["Total", "$12.50", "Stre:ACME", "2023-01-05", "Thnkyu!"]
    nothing_known = ["ü ö", "$12.50", "Store", "2023", "Thank"]
    rows = [{"body": {"instances": _instances(ORACLE_BOXES, t), "width": 512, "height": 512}}
            for t in (spaced, kept, nothing_known)]
    (a, b, c), ctx = handle_rows(novisual, rows)
    assert ctx.status == {}
    assert a == b
    assert len(c["instances"]) == 5  # a box with no known character still gets a label


def test_polygons_are_read_as_their_bounding_boxes(novisual):
    quads = [[x1, y2, x2, y2, x2, y1, x1, y1] for x1, y1, x2, y2 in ORACLE_BOXES]
    rows = [{"body": {"instances": _instances(boxes, ORACLE_TEXTS), "width": 512, "height": 512}}
            for boxes in (ORACLE_BOXES, quads)]
    (a, b), _ = handle_rows(novisual, rows)
    assert a == b


def test_key_value_pairs_link_same_field_keys_to_values():
    names = read_class_list(kie_files()["class_list"])
    fields = key_value_fields(names)
    assert fields[24] == ("total", "key") and fields[23] == ("total", "value") and 25 not in fields and 0 not in fields
    labels = [24, 23, 23, 8, 7, 25]  # Total_key, 2 x Total_value, Date_key, Date_value, Others
    links = np.full((6, 6), 0.1, np.float32)
    links[0, 1], links[0, 2] = 0.7, 0.9  # the key links best to the second total value
    links[3, 4] = 0.4                    # below the threshold
    links[3, 1] = 0.99                   # a date key to a total value: different fields
    links[5, 4] = 0.99                   # "Others" is no key
    assert link_pairs(labels, links, fields, 0.5) == [(0, 2, pytest.approx(0.9))]
    assert link_pairs(labels, links, fields, 0.3) == [(0, 2, pytest.approx(0.9)), (3, 4, pytest.approx(0.4))]


def test_the_amount_right_of_a_tips_key_becomes_the_tip():
    names = read_class_list(data_path(*RECEIPTS, "class_list.txt"))
    c = {name: i for i, name in enumerate(names)}
    rows = [  # (text, x1, y1, x2, y2, label)
        ("Tip:", 10, 100, 50, 120, "Tips_key"), ("15.11", 200, 102, 260, 122, "Tax_value"),
        ("$3.00", 300, 100, 350, 120, "Others"),            # farther right on the line: not it
        ("9.99", 5, 100, 8, 120, "Others"),                 # left of the key: not it
        ("Tax", 10, 60, 50, 80, "Tax_key"), ("1.20", 200, 60, 260, 80, "Tax_value"),  # a field not asked for
        ("Gratuity", 10, 140, 80, 160, "Tips_key"), ("12/30/16", 200, 140, 300, 160, "Date_value"),  # no amount
        ("Tip", 10, 180, 40, 200, "Tips_key"), ("15%", 100, 180, 150, 200, "Others"),  # no amount: skipped
        ("2.00", 160, 185, 200, 205, "Others"),
        ("4.00", 160, 212, 200, 232, "Others"),              # the next line down: not it
        ("Tips", 10, 240, 50, 260, "Tips_key"), ("19.38", 200, 240, 260, 260, "Total_value"),  # a total stays
    ]
    boxes = np.array([r[1:5] for r in rows], np.float32)
    texts = [r[0] for r in rows]
    labels = [c[r[5]] for r in rows]
    out = values_right_of_keys(labels, boxes, texts, names, ["Tips"])
    changed = {texts[i]: names[out[i]] for i in range(len(rows)) if out[i] != labels[i]}
    assert changed == {"15.11": "Tips_value", "2.00": "Tips_value"}
    assert values_right_of_keys(labels, boxes, texts, names, []) == labels


def _fixed_runner(logits: torch.Tensor):
    """A runner whose network answers `logits` for the boxes (and no links) whatever it is given."""
    class Network(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.kie_head = torch.nn.Module()
            self.kie_head.node_cls = torch.nn.Linear(4, logits.shape[1])

        def forward(self, image, boxes, texts):
            return logits, torch.zeros(len(logits) ** 2, 2)

    return type("Runner", (), {"module": Network(), "torch": torch, "device": "cpu"})()


def test_a_tip_read_from_its_key_is_served_with_the_keys_score():
    names = read_class_list(data_path(*RECEIPTS, "class_list.txt"))
    c = {name: i for i, name in enumerate(names)}
    logits = torch.full((3, len(names)), -5.0)
    logits[0, c["Tips_key"]], logits[1, c["Tax_value"]], logits[2, c["Others"]] = 4.0, 0.5, 3.0

    runner = _fixed_runner(logits)
    cfg = SDMGRConfig.from_dict({"arch": NOVISUAL, "value_right_of_key": ["Tips"]})
    doc = KIEDocument(None, np.array([[10, 100, 50, 120], [200, 102, 260, 122], [10, 140, 80, 160]], np.float32),
                      ["Tip:", "15.11", "Thank you"], (300, 300))
    [result] = SDMGRExtractor(runner, cfg, names)([doc])
    key, tip, other = result.labels
    assert (key.label, tip.label, other.label) == ("Tips_key", "Tips_value", "Others")
    assert tip.score == key.score == pytest.approx(float(torch.softmax(logits[0], -1).max()))
    assert other.score == pytest.approx(float(torch.softmax(logits[2], -1).max()))


def test_a_tip_with_no_tips_key_in_sight_takes_its_next_class():
    names = read_class_list(data_path(*RECEIPTS, "class_list.txt"))
    c = {name: i for i, name in enumerate(names)}
    rows = [  # (text, label, runner-up)
        ("Subtotal", "Subtotal_key", "Others"), ("$20.00", "Subtotal_value", "Others"),
        ("Tax", "Tax_key", "Others"), ("$1.60", "Tips_value", "Tax_value"),
        ("Total", "Total_key", "Others"), ("21.60-", "Tips_value", "Total_value"),
        ("TIP 3.00", "Tips_value", "Others"),  # more than an amount: its words may be its key, kept
        ("12/30/16", "Tips_value", "Date_value"),  # not an amount: kept
    ]
    texts = [r[0] for r in rows]
    labels = [c[r[1]] for r in rows]
    prob = np.full((len(rows), len(names)), 0.001)
    for i, (_, label, second) in enumerate(rows):
        prob[i, c[label]], prob[i, c[second]] = 0.6, 0.3
    assert keyless_values(labels, prob, texts, names, ["Tips"]) == {3: c["Tax_value"], 5: c["Total_value"]}
    assert keyless_values(labels, prob, texts, names, []) == {}
    with_key = labels[:2] + [c["Tips_key"]] + labels[3:]
    assert keyless_values(with_key, prob, texts, names, ["Tips"]) == {}  # a tips key labelled
    seen = prob.copy()
    seen[2, c["Tips_key"]] = KEY_SEEN  # a box that may well be a tips key (an OCR line holding more)
    assert keyless_values(labels, seen, texts, names, ["Tips"]) == {}
    seen[2, c["Tips_key"]] = KEY_SEEN / 2
    assert keyless_values(labels, seen, texts, names, ["Tips"]) == {3: c["Tax_value"], 5: c["Total_value"]}


def test_a_keyless_tip_is_served_with_its_next_class_and_that_score():
    names = read_class_list(data_path(*RECEIPTS, "class_list.txt"))
    c = {name: i for i, name in enumerate(names)}
    logits = torch.full((2, len(names)), -5.0)
    logits[0, c["Tax_key"]] = 4.0
    logits[1, c["Tips_value"]], logits[1, c["Tax_value"]] = 1.0, 0.5

    runner = _fixed_runner(logits)
    doc = KIEDocument(None, np.array([[10, 100, 50, 120], [200, 102, 260, 122]], np.float32), ["Tax", "$1.60"], (300, 300))
    cfg = SDMGRConfig.from_dict({"arch": NOVISUAL, "value_needs_key": ["Tips"]})
    [result] = SDMGRExtractor(runner, cfg, names)([doc])
    assert [label.label for label in result.labels] == ["Tax_key", "Tax_value"]
    assert result.labels[1].score == pytest.approx(float(torch.softmax(logits[1], -1)[c["Tax_value"]]))
    [plain] = SDMGRExtractor(runner, SDMGRConfig.from_dict({"arch": NOVISUAL}), names)([doc])
    assert [label.label for label in plain.labels] == ["Tax_key", "Tips_value"]


def test_value_right_of_key_config_is_checked():
    with pytest.raises(ValueError, match="list of field names"):
        SDMGRConfig.from_dict({"arch": NOVISUAL, "value_right_of_key": "Tips"})
    cfg = SDMGRConfig.from_dict({"arch": NOVISUAL, "value_right_of_key": ["Tips", "Change"]})
    assert cfg.value_right_of_key == ("Tips", "Change")
    names = read_class_list(data_path(*RECEIPTS, "class_list.txt"))
    runner = type("Runner", (), {"module": torch.nn.Module()})()
    runner.module.kie_head = torch.nn.Module()
    runner.module.kie_head.node_cls = torch.nn.Linear(4, len(names))
    with pytest.raises(ValueError, match="no Change_key, Change_value"):
        SDMGRExtractor(runner, cfg, names)
    with pytest.raises(ValueError, match="value_needs_key must be a list"):
        SDMGRConfig.from_dict({"arch": NOVISUAL, "value_needs_key": "Tips"})
    with pytest.raises(ValueError, match="value_needs_key: the class list has no Change_key"):
        SDMGRExtractor(runner, SDMGRConfig.from_dict({"arch": NOVISUAL, "value_needs_key": ["Change"]}), names)


def test_open_set_classes_link_any_key_to_any_value():
    fields = key_value_fields(["bg", "key", "value", "others"])
    assert fields == {1: ("", "key"), 2: ("", "value")}
    links = np.zeros((4, 4), np.float32)
    links[0, 2], links[0, 3], links[1, 3] = 0.8, 0.95, 0.7
    assert link_pairs([1, 1, 2, 2], links, fields, 0.5) == [(0, 3, pytest.approx(0.95))]
    assert link_pairs([1, 3, 2, 2], links, fields, 0.5) == [(0, 3, pytest.approx(0.95))]


def test_class_list_format_errors(tmp_path):
    bad = tmp_path / "classes.txt"
    bad.write_text("0 Ignore\n2 Total_key\n")
    with pytest.raises(ValueError, match="without gaps"):
        read_class_list(bad)
    bad.write_text("Ignore\n")
    with pytest.raises(ValueError, match="expected '<id> <name>'"):
        read_class_list(bad)


def test_archive_cli_needs_the_class_list_and_dict(tmp_path, capsys):
    checkpoint = tmp_path / "x.pth"
    checkpoint.write_bytes(b"not read")
    code = cli_main(["--zoo", str(private_zoo(tmp_path)), "archive", "--arch", NOVISUAL, "--checkpoint",
                     str(checkpoint), "--name", "mykie", "--dict", str(checkpoint), "--store", str(tmp_path)])
    assert code == 1 and "needs --class-list" in capsys.readouterr().err


def _spec(tmp_path, checkpoint, classes, dict_file):
    from handlers.api.spec import ModelSpec

    class_list = tmp_path / "class_list.txt"
    class_list.write_text("".join(f"{i} {name}\n" for i, name in enumerate(classes)))
    return ModelSpec("own", "kie", "sdmgr", "torch", checkpoint, {"arch": NOVISUAL},
                     {"class_list": class_list, "dict": dict_file})


def test_a_checkpoint_with_its_own_classes_and_dict_is_served(tmp_path):
    from handlers.families.kie.text_encoding import KIEDictionary
    from handlers.predictors.sdmgr import build_network
    from handlers.kie import KIEHandler

    torch.manual_seed(0)
    classes = ["Ignore", "Total_key", "Total_value", "Others"]
    dict_file = tmp_path / "dict.txt"
    dict_file.write_text("\n".join("0123456789.$Total") + "\n")
    checkpoint = tmp_path / "own.pth"
    torch.save({"state_dict": build_network(NOVISUAL, 4, KIEDictionary.from_file(dict_file)).state_dict()}, checkpoint)
    handler = KIEHandler()
    handler.load(_spec(tmp_path, checkpoint, classes, dict_file))
    [body] = handler.run_rows([{"body": {"instances": _instances(ORACLE_BOXES[:2], ["Total", "$12.50"])}}])
    assert [i["label"] for i in body["instances"]] == [classes[i["label_id"]] for i in body["instances"]]
    with pytest.raises(ValueError, match="3 classes and a 17-character dictionary"):
        KIEHandler().load(_spec(tmp_path, checkpoint, classes[:3], dict_file))
