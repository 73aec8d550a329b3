"""Handlers called the way TorchServe calls them (fake context), with real weights and images."""
from __future__ import annotations

import base64
import os

import cv2
import numpy as np
import pytest

from handlers.ts_entry import OcrServeEntry
from service.tooling.packaging.archive import stage_model_files
from tests.conftest import FakeContext, data_path, handle_rows


def _model_dir(tmp_path_factory, zoo, name):
    entry = zoo.get(name)
    model_dir = tmp_path_factory.mktemp(name)
    weights = stage_model_files(entry, model_dir)
    os.symlink(weights, model_dir / weights.name)
    return model_dir


@pytest.fixture(scope="module")
def det(tmp_path_factory, zoo, weights_ready):
    entry = OcrServeEntry()
    entry.initialize(FakeContext(_model_dir(tmp_path_factory, zoo, zoo.defaults["det"])))
    return entry


@pytest.fixture(scope="module")
def rec(tmp_path_factory, zoo, weights_ready):
    entry = OcrServeEntry()
    entry.initialize(FakeContext(_model_dir(tmp_path_factory, zoo, zoo.defaults["rec"])))
    return entry


def test_detection_finds_the_words_of_a_scene_photo(det):
    image = data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()
    [body], ctx = handle_rows(det, [{"body": bytearray(image)}])
    assert ctx.status == {}
    boxes = body["boundary_result"]
    assert len(boxes) >= 3
    for row in boxes:
        assert len(row) == 9 and 0 < row[-1] <= 1
        xs, ys = row[0:8:2], row[1:8:2]
        assert min(xs) >= 0 and max(xs) <= 1280 and min(ys) >= 0 and max(ys) <= 720
        # clockwise in image coordinates: positive shoelace area with y pointing down
        area = sum(xs[i] * ys[(i + 1) % 4] - xs[(i + 1) % 4] * ys[i] for i in range(4))
        assert area > 0


def test_bad_row_fails_alone_and_worker_keeps_serving(det):
    good = data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_1.jpg").read_bytes()
    results, ctx = handle_rows(det, [{"body": b"not an image"}, {"body": good}, {"body": good, "mask_thr": "2"}])
    assert ctx.status[0][0] == 400 and "decode" in results[0]["message"]
    assert 1 not in ctx.status and "boundary_result" in results[1]
    assert ctx.status[2][0] == 422 and "mask_thr" in results[2]["message"]
    again, ctx = handle_rows(det, [{"body": good}])
    assert again[0]["boundary_result"] == results[1]["boundary_result"]


def test_blank_image_has_no_boxes(det):
    ok, png = cv2.imencode(".png", np.full((300, 400, 3), 255, np.uint8))
    [body], ctx = handle_rows(det, [{"body": png.tobytes()}])
    assert body == {"boundary_result": []}


def test_recognition_reads_word_crops_single_and_batched(rec):
    root = data_path("mmocr", "0.x", "ocr_toy_dataset")
    labels = [line.split(" ", 1) for line in (root / "label.txt").read_text().splitlines()]
    crops = [(root / "imgs" / name).read_bytes() for name, _ in labels]
    single, _ = handle_rows(rec, [{"body": crops[0]}])
    assert set(single[0]) == {"text", "score"}
    batch = {"images": [base64.b64encode(c).decode() for c in crops]}
    [listed], ctx = handle_rows(rec, [{"body": batch}])
    assert ctx.status == {} and len(listed) == len(crops)
    assert listed[0] == single[0]
    correct = sum(r["text"].lower() == text.lower() for r, (_, text) in zip(listed, labels))
    assert correct >= 7, [r["text"] for r in listed]


def test_recognition_positions_are_ordered_fractions(rec):
    crop = data_path("mmocr", "0.x", "ocr_toy_dataset", "imgs", "1223729.jpg").read_bytes()
    [body], _ = handle_rows(rec, [{"body": crop, "positions": "true"}])
    chars = body["chars"]
    assert "".join(c[0] for c in chars) == body["text"]
    starts = [c[1] for c in chars]
    assert starts == sorted(starts) and all(0 <= c[1] < c[2] <= 1 for c in chars)


def _line_crop(paths, width: int) -> bytes:
    """Word crops side by side, scaled to 48 x `width`: a text line wider than any single word."""
    words = [cv2.imread(str(p)) for p in paths]
    line = np.hstack([cv2.resize(w, (round(w.shape[1] * 48 / w.shape[0]), 48)) for w in words])
    return cv2.imencode(".png", cv2.resize(line, (width, 48)))[1].tobytes()


def test_recognition_batch_equals_one_by_one_across_rows(rec):
    """A crop reads the same alone or beside other requests' crops of other widths (TorchServe
    batches rows): its input is padded to a width of its own, not to its batch's widest."""
    root = data_path("mmocr", "0.x", "ocr_toy_dataset", "imgs")
    paths = sorted(root.glob("*.jpg"))
    crops = [p.read_bytes() for p in paths] + [_line_crop(paths[:3], 400), _line_crop(paths[3:6], 700)]
    together, _ = handle_rows(rec, [{"body": c} for c in crops])
    alone = [handle_rows(rec, [{"body": c}])[0][0] for c in crops]
    assert [r["text"] for r in together] == [r["text"] for r in alone]
    assert np.allclose([r["score"] for r in together], [r["score"] for r in alone], atol=1e-4)
