"""`ocrserve train det` end to end on two real photos: train a few steps, export, serve with `db`."""
from __future__ import annotations

import shutil
import sys

import cv2
import numpy as np
import pytest
import yaml

from service.tooling.cli import main
from tests.conftest import data_path

PHOTOS = ("img_1", "img_2")
pytestmark = pytest.mark.usefixtures("one_thread")  # the command sets torch's threads: given back after


def _covered(words, detections) -> float:
    """Share of cared ground-truth words whose centre lies inside a detected polygon."""
    cared = [np.asarray(w.polygon, np.float32).reshape(-1, 2) for w in words if not w.ignored]
    hits = sum(any(cv2.pointPolygonTest(d.polygon.astype(np.float32), tuple(map(float, c.mean(axis=0))), False) >= 0
                   for d in detections) for c in cared)
    return hits / max(len(cared), 1)


def test_train_export_and_serve(tmp_path, zoo, weights_ready, capsys):
    from service.gateway.zoo import ZooEntry, load_zoo
    from service.tooling.local_backend import LocalBackend
    from service.tooling.evaluation.datasets import read_icdar2015_gt
    from service.tooling.packaging.weights import weight_path
    from service.tooling.training.det.zoo_entry import with_detector, write_zoo

    root = data_path("icdar2015_train")
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "gt").mkdir()
    for stem in PHOTOS:
        shutil.copy(root / "images" / f"{stem}.jpg", data / "images")
        shutil.copy(root / "gt" / f"gt_{stem}.txt", data / "gt")
    out = tmp_path / "run"
    argv = ["train", "det", "--data", str(data), "--out", str(out), "--steps", "2", "--batch-size", "2",
            "--size", "192", "--save-every", "1", "--log-every", "1", "--check-side", "256", "--threads", "1",
            "--name", "dbnet-test"]
    assert main(argv) == 0
    assert sys.float_info.min / 2 > 0, "train det left this process flushing subnormal floats to zero"
    log = capsys.readouterr().out
    assert "equal to onnxruntime" in log and "step 2" in log and "onnxruntime equals torch" in log
    assert (out / "step00001.pt").is_file() and (out / "last.pt").is_file()

    raw = yaml.safe_load((out / "zoo_entry.yaml").read_text())
    entry = ZooEntry(name="dbnet-test", **raw["dbnet-test"])
    assert entry.family == "db" and entry.config == zoo.get("dbnet").config  # the base model's config keys
    # served as a zoo model by the in-process backend (the handler TorchServe runs)
    served, name = with_detector(zoo, str(out / "det.onnx"))
    handler = LocalBackend(served).handler(name)
    assert load_zoo(write_zoo(served, tmp_path / "zoo.yaml")).get(name) == served.get(name)  # a gateway's zoo
    image = cv2.imread(str(root / "images" / "img_1.jpg"))
    found = handler.detect(image, {})
    assert len(found) >= 3
    assert _covered(read_icdar2015_gt(root / "gt" / "gt_img_1.txt"), found) >= 0.5

    # resuming the finished run trains nothing more and exports the same weights
    assert main(argv + ["--resume"]) == 0
    assert "resumed at step 2" in capsys.readouterr().out

    # --blend 0.25: the exported tensors lie a quarter of the way from the base model's to the trained ones
    blended = tmp_path / "blend"
    export = ["train", "det", "--data", str(data), "--out", str(blended), "--check-side", "256", "--threads", "1",
              "--export-only", str(out / "step00002.pt")]
    assert main(export + ["--blend", "1.5"]) == 2 and "--blend 1.5" in capsys.readouterr().err
    assert main(export + ["--blend", "0.25"]) == 0
    assert "blended" in capsys.readouterr().out
    base, trained, mix = (_initializers(p) for p in (weight_path(zoo.get("dbnet")), out / "det.onnx",
                                                         blended / "det.onnx"))
    moved = [k for k in base if not np.array_equal(base[k], trained[k])]
    assert moved and all(np.allclose(mix[k], 0.75 * base[k] + 0.25 * trained[k], rtol=1e-6, atol=1e-6) for k in moved)
    assert all(np.array_equal(mix[k], base[k]) for k in base if k not in moved)


def _initializers(path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert main(["train", "det", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_train_with_replay(tmp_path, zoo, weights_ready, capsys):
    """--replay: the base model labels the replay images, each batch holds its share of them, and
    the replay crops' own loss is logged."""
    import json

    import torch

    root = data_path("icdar2015_train")
    page = data_path("tesseract", "testing", "trainingtimes.tif")  # a printed page no evaluation reads
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "gt").mkdir()
    shutil.copy(root / "images" / "img_1.jpg", data / "images")
    shutil.copy(root / "gt" / "gt_img_1.txt", data / "gt")
    out = tmp_path / "run"
    argv = ["train", "det", "--data", str(data), "--out", str(out), "--steps", "1", "--batch-size", "2",
            "--size", "128", "--log-every", "1", "--check-side", "128", "--threads", "1",
            "--replay", str(page), "--replay-ratio", "0.5"]
    assert main(argv[:-4] + ["--replay", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(argv) == 0
    log = capsys.readouterr().out
    assert "replay of 1 images" in log and "1 of 2 crops a batch" in log
    labels = json.loads((out / "replay_labels.json").read_text())
    assert labels["base_sha256"] == zoo.get("dbnet").weights.sha256
    (line,) = [np.asarray(p).reshape(-1, 2) for p in labels["images"][0]["polygons"]]  # the page's one line
    assert line[:, 0].min() < 200 and line[:, 0].max() > 800 and 50 < line[:, 1].min() < line[:, 1].max() < 170
    row = json.loads((out / "history.jsonl").read_text().splitlines()[-1])
    assert row["replay"] > 0
    meta = torch.load(out / "last.pt", weights_only=True)["meta"]
    assert meta["replay"]["images"] == 1 and meta["options"]["replay_ratio"] == 0.5
