"""WildReceipt reader on the real 2-receipt sample (shared/data) and on constructed records."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from handlers.api.class_list import read_class_list
from service.tooling.training.kie.dataset import edge_targets, make_batch, quad_to_box, read_annotations
from service.tooling.training.kie.evaluate import WILDRECEIPT_CLASSES

WILDRECEIPT = Path(__file__).resolve().parents[4].parent / "shared" / "data" / "mmocr" / "main" / "kie_toy_dataset" / "wildreceipt"


@pytest.fixture
def sample() -> Path:
    if not (WILDRECEIPT / "data.txt").is_file():
        pytest.skip(f"real WildReceipt sample not available at {WILDRECEIPT}")
    return WILDRECEIPT


def test_reads_the_real_sample(sample):
    classes = read_class_list(sample / "class_list.txt")  # lines carry trailing tabs
    assert tuple(classes) == WILDRECEIPT_CLASSES
    docs = read_annotations(sample / "data.txt", num_classes=len(classes))
    assert [len(d.texts) for d in docs] == [60, 26]
    first, second = docs
    assert first.image_path == sample / "1.jpeg" and first.image_path.is_file()
    assert (first.height, first.width) == (1200, 1600)
    assert first.texts[0] == "SAFEWAY" and first.labels[0] == 1
    assert first.boxes[0].tolist() == [550, 104, 937, 190]  # min / max of the 4 corners
    assert second.texts[22:24] == ["$60.44", ""] and second.labels[22:24].tolist() == [23, 0]
    assert (second.edge_ids == 0).all()  # close set: no edge ids


def test_batch_scales_boxes_like_the_test_pipeline(sample):
    docs = read_annotations(sample / "data.txt")
    batch = make_batch(docs)
    assert batch.img is None and len(batch.boxes) == 2
    # 1600x1200 -> keep-ratio fit in (1024, 512): factor 512/1200, new size 683x512
    want = torch.tensor([550, 104, 937, 190]) * torch.tensor([683 / 1600, 512 / 1200] * 2)
    assert torch.allclose(batch.boxes[0][0], want.float(), atol=1e-3)
    assert batch.node_targets.shape == (86,) and batch.edge_targets.shape == (60 * 60 + 26 * 26,)
    # close set: every pair of different boxes is a positive edge, the diagonal is ignored
    assert int((batch.edge_targets == -1).sum()) == 86 and int((batch.edge_targets == 0).sum()) == 0


def test_batch_with_images_pads_to_the_largest(sample):
    batch = make_batch(read_annotations(sample / "data.txt"), with_image=True)
    assert batch.img.shape == (2, 3, 512, 704)  # 683 -> 704 (multiple of 32); 348x348 -> 512x512 padded


def test_edge_targets_from_edge_ids():
    got = edge_targets(np.array([1, 2, 1, 3]))
    assert got.tolist() == [[-1, 0, 1, 0], [0, -1, 0, 0], [1, 0, -1, 0], [0, 0, 0, -1]]


def test_quad_to_box_truncates_like_int32():
    assert quad_to_box([10.9, 5.2, 30.7, 5.9, 30.1, 20.99, 10.2, 20.5]) == [10, 5, 30, 20]
    with pytest.raises(ValueError, match="8 numbers"):
        quad_to_box([1, 2, 3, 4])


def test_bad_files_name_the_line(tmp_path):
    ann = tmp_path / "a.txt"
    rec = {"file_name": "x.jpg", "height": 10, "width": 10,
           "annotations": [{"box": [0, 0, 5, 0, 5, 5, 0, 5], "text": "a", "label": 30}]}
    ann.write_text(json.dumps(rec) + "\n" + '{"file_name": "y.jpg"}\n')
    with pytest.raises(ValueError, match=r"a.txt:1: labels must lie in 0..25"):
        read_annotations(ann, num_classes=26)
    rec["annotations"][0]["label"] = 3
    ann.write_text(json.dumps(rec) + "\n" + '{"file_name": "y.jpg"}\n')
    with pytest.raises(ValueError, match=r"a.txt:2: .*lacks"):
        read_annotations(ann, num_classes=26)
    cls = tmp_path / "classes.txt"
    cls.write_text("0 A\n2 B\n")
    with pytest.raises(ValueError, match="without gaps"):
        read_class_list(cls)
