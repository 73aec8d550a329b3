"""Replay for `ocrserve train det --replay`: a real receipt labelled by the base detector, the labels
cached, and batches that mix training and replay crops at the asked ratio."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import data_path

pytestmark = pytest.mark.usefixtures("one_thread")

WILD_SPLIT = (("train", 0.7), ("val", 0.1), ("test", 0.2))  # bench/kie_prepare_real.py, seed 13


@pytest.fixture(scope="module")
def receipt():
    """The first WildReceipt receipt with an image in the training part (never an evaluated one)."""
    from service.tooling.training.kie.real_data import split_of

    root = data_path("wildreceipt_subset")
    for line in (root / "annotations.txt").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line) if line.strip() else None
        if rec and split_of(rec["file_name"], 13, WILD_SPLIT) == "train" and (root / rec["file_name"]).is_file():
            return root / rec["file_name"], rec["annotations"]
    pytest.skip("no WildReceipt training receipt with an image")


@pytest.fixture(scope="module")
def base(zoo, weights_ready):
    from handlers.predictors.db import DBConfig
    from service.tooling.packaging.weights import weight_path

    entry = zoo.get("dbnet")
    return weight_path(entry), entry.weights.sha256, DBConfig.from_dict(entry.config)


def _centre_covered(boxes, polygons) -> float:
    """Share of the boxes whose centre lies inside one of the polygons."""
    hits = 0
    for box in boxes:
        centre = tuple(map(float, np.asarray(box, np.float32).reshape(-1, 2).mean(axis=0)))
        hits += any(cv2.pointPolygonTest(np.asarray(p, np.float32).reshape(-1, 2), centre, False) >= 0 for p in polygons)
    return hits / max(len(boxes), 1)


def test_replay_labels_are_the_base_models_boxes(tmp_path, receipt, base):
    from handlers.predictors.db import DBDetector
    from handlers.runtime import OnnxRunner
    from service.tooling.training.det.replay import LABELS, load_or_label, replay_images

    image_path, annotations = receipt
    listing = tmp_path / "replay.txt"
    listing.write_text(f"# one receipt\n{image_path}\n", encoding="utf-8")
    images = replay_images([listing])
    assert images == [image_path]
    onnx, sha, cfg = base
    samples, fresh = load_or_label(tmp_path / "run", onnx, sha, cfg, images)
    assert fresh and len(samples) == 1
    labels = [w.polygon for w in samples[0].words]
    # exactly what the served detector answers on this receipt...
    served = DBDetector(OnnxRunner(onnx), cfg)(cv2.imread(str(image_path), cv2.IMREAD_COLOR))
    assert len(labels) == len(served) >= 10
    assert np.allclose(np.asarray(labels), np.asarray([d.polygon.reshape(-1) for d in served]), atol=0.01)
    assert not any(w.ignored for w in samples[0].words)
    # ...and those boxes are the receipt's text: most annotated texts sit inside one
    texts = [a["box"] for a in annotations if a["text"].strip()]
    assert _centre_covered(texts, labels) >= 0.8

    # cached: read back for the same base model, labelled again for another one
    assert (tmp_path / "run" / LABELS).is_file()
    again, fresh = load_or_label(tmp_path / "run", onnx, sha, cfg, images)
    assert not fresh and [w.polygon for w in again[0].words] == labels
    _, fresh = load_or_label(tmp_path / "run", onnx, "0" * 64, cfg, images)
    assert fresh


def test_replay_sources_and_ratio_are_checked(tmp_path):
    from service.tooling.training.det.replay import replay_images, replay_per_batch

    with pytest.raises(ValueError, match="does not exist"):
        replay_images([tmp_path / "nothing"])
    (tmp_path / "list.txt").write_text("missing.jpg\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not found"):
        replay_images([tmp_path / "list.txt"])
    assert replay_per_batch(0.2, 5) == 1 and replay_per_batch(0.5, 4) == 2 and replay_per_batch(0.0, 4) == 0
    for ratio, batch in ((0.1, 4), (0.9, 2), (1.0, 4)):
        with pytest.raises(ValueError):
            replay_per_batch(ratio, batch)


def test_batch_keys_mix_at_the_ratio():
    from service.tooling.training.det.replay import batch_keys

    n_train, n_replay = 10, 3
    batches = [batch_keys(n_train, n_replay, 5, 1, 0, step) for step in range(9)]
    assert all(len(b) == 5 and [p for p, _, _ in b] == [0, 0, 0, 0, 1] for b in batches)
    # the training crops are those of a run without replay at batch size 4 (same order, same draws)
    plain = [batch_keys(n_train, 0, 4, 0, 0, step) for step in range(9)]
    assert [b[:4] for b in batches] == plain
    # every replay image once per pass, passes in different orders and with different draws
    replayed = [b[4] for b in batches]
    for rpass in range(3):
        assert sorted(i for _, i, p in replayed if p == rpass) == [0, 1, 2]
    assert len({tuple(i for _, i, p in replayed if p == rpass) for rpass in range(3)}) > 1


def test_mixed_batch_holds_the_replay_crop(receipt, base):
    from service.tooling.training.det.augment import AugmentOptions
    from service.tooling.training.det.data import DetTrainSet, read_samples
    from service.tooling.training.det.replay import MixedSet, batch_keys, pseudo_labels

    onnx, _, cfg = base
    photos = read_samples(data_path("icdar2015_train"), "icdar", {"img_1.jpg", "img_2.jpg"})
    opts = AugmentOptions(size=160)
    train_set = DetTrainSet(photos, cfg, opts, seed=0)
    replay_set = DetTrainSet(pseudo_labels(onnx, cfg, [receipt[0]]), cfg, opts, seed=1)
    keys = batch_keys(len(photos), 1, 2, 1, 0, 0)
    loader = torch.utils.data.DataLoader(MixedSet(train_set, replay_set), batch_sampler=[keys])
    batch = next(iter(loader))
    assert batch["image"].shape == (2, 3, 160, 160)
    want = replay_set.draw(0, 0)
    assert torch.equal(batch["image"][1], want["image"]) and torch.equal(batch["shrink"][1], want["shrink"])
    assert batch["shrink"][1].sum() > 0  # the receipt crop carries the base model's text
    assert torch.equal(batch["image"][0], train_set.draw(keys[0][1], 0)["image"])
