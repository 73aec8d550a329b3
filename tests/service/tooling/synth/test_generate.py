"""generate(): files, determinism, the WildReceipt format and class list."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from service.tooling.synth.receipts import CLASS_NAMES, generate, read_annotations
from handlers.api.class_list import read_class_list
from service.tooling.synth.receipts.io import parse_line

from tests.conftest import data_path

WILDRECEIPT = ("mmocr", "main", "kie_toy_dataset", "wildreceipt")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("synth") / "a", count=4, seed=11)


def test_generate_writes_images_annotations_and_class_list(dataset: Path):
    out = dataset.parent
    records = read_annotations(dataset)
    assert dataset == out / "annotations.txt"
    assert [r.file_name for r in records] == [f"images/{i:05d}.jpg" for i in range(4)]
    for r in records:
        image = cv2.imread(str(out / r.file_name))
        assert image.shape[:2] == (r.height, r.width)
        assert len(r.texts) >= 8
    assert read_class_list(out / "class_list.txt") == list(CLASS_NAMES)


def test_same_seed_same_bytes_other_seed_other_receipts(dataset: Path, tmp_path: Path):
    again = generate(tmp_path / "b", count=4, seed=11)
    assert again.read_bytes() == dataset.read_bytes()
    for i in range(4):
        name = f"images/{i:05d}.jpg"
        assert (again.parent / name).read_bytes() == (dataset.parent / name).read_bytes()
    other = generate(tmp_path / "c", count=4, seed=12)
    assert other.read_text() != dataset.read_text()


def test_every_label_is_a_wildreceipt_class_and_every_box_inside_its_image(dataset: Path):
    for r in read_annotations(dataset):
        assert set(r.labels) <= set(range(26))
        assert (r.boxes[..., 0] >= 0).all() and (r.boxes[..., 0] <= r.width).all()
        assert (r.boxes[..., 1] >= 0).all() and (r.boxes[..., 1] <= r.height).all()


def test_class_list_matches_wildreceipt(dataset: Path):
    real = read_class_list(data_path(*WILDRECEIPT, "class_list.txt"))
    assert read_class_list(dataset.parent / "class_list.txt") == real


def test_annotation_lines_have_the_shape_of_wildreceipt_data_txt(dataset: Path):
    real_file = data_path(*WILDRECEIPT, "data.txt")
    real = json.loads(real_file.read_text().splitlines()[0])
    ours = json.loads(dataset.read_text().splitlines()[0])
    assert set(ours) == set(real)
    assert set(ours["annotations"][0]) == set(real["annotations"][0])
    assert all(type(ours[k]) is type(real[k]) for k in ("file_name", "height", "width"))
    a, b = ours["annotations"][0], real["annotations"][0]
    assert [type(v) for v in a["box"]] == [type(v) for v in b["box"]]  # 8 floats
    assert type(a["text"]) is type(b["text"]) and type(a["label"]) is type(b["label"])
    assert len(read_annotations(real_file)) == 2  # the same reader reads both


def test_reader_refuses_malformed_lines():
    with pytest.raises(ValueError, match="8 coordinates"):
        parse_line(json.dumps({"file_name": "x.jpg", "height": 1, "width": 1,
                               "annotations": [{"box": [0, 0, 1, 1], "text": "a", "label": 1}]}))
    with pytest.raises(ValueError, match="record keys"):
        parse_line(json.dumps({"file_name": "x.jpg", "annotations": []}))


def test_negative_count_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="count"):
        generate(tmp_path, count=-1, seed=0)


def test_command_line_and_workers_write_the_same_files(dataset: Path, tmp_path: Path):
    import subprocess
    import sys

    out = tmp_path / "cli"
    done = subprocess.run([sys.executable, "-m", "service.tooling.synth.receipts", "--out", str(out), "--count", "4",
                           "--seed", "11", "--workers", "2"], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[4], check=True)
    assert "wrote 4 receipts" in done.stdout
    assert (out / "annotations.txt").read_bytes() == dataset.read_bytes()
    assert (out / "images/00003.jpg").read_bytes() == (dataset.parent / "images/00003.jpg").read_bytes()
