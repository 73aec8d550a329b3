"""SDMG-R test-time preparation vs the oracle's preprocessing case (preproc/preproc_cases.json):
a synthetic 300x420 BGR image through MMOCR's test pipeline and ImgDataPreprocessor."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from handlers.families.kie.preprocess import prepare, rescale_size, resize_image, scale_boxes
from tests.oracle import oracle_file

# source boxes of the case (its output boxes divided by the factors 717/420 and 512/300)
SRC_BOXES = [[20, 30, 200, 90], [220, 30, 400, 90]]


def _case(name):
    return json.loads(oracle_file("preproc", "preproc_cases.json").read_text())["results"][name]


def test_visual_pipeline_matches_oracle():
    cv2 = pytest.importorskip("cv2")
    case = _case("sdmgr_unet16_60e_wildreceipt")
    img = cv2.imread(str(oracle_file("preproc", case["source"])), cv2.IMREAD_COLOR)
    assert list(img.shape[:2]) == case["source_shape"]
    resized = resize_image(img)
    want = cv2.imread(str(oracle_file("preproc", case["pipeline_output_png"])), cv2.IMREAD_COLOR)
    assert np.array_equal(resized, want)
    tensor, boxes, _ = prepare(img, SRC_BOXES)
    ref = case["normalised_input"]
    assert list(tensor.shape) == ref["shape"]
    assert tensor.double().sum().item() == pytest.approx(ref["sum"], rel=1e-9)
    torch.testing.assert_close(tensor.flatten()[:: ref["sample_stride"]], torch.tensor(ref["sample"]),
                               rtol=0, atol=1e-6)
    assert torch.equal(boxes, torch.tensor(case["gt_instances_after_pipeline"]["bboxes"]))


def test_novisual_scales_boxes_without_image():
    case = _case("sdmgr_novisual_60e_wildreceipt")
    tensor, boxes, factors = prepare(None, SRC_BOXES, image_size=(300, 420), with_image=False)
    assert tensor is None
    assert factors == (717 / 420, 512 / 300)
    assert torch.equal(boxes, torch.tensor(case["gt_instances_after_pipeline"]["bboxes"]))


def test_rescale_and_clip():
    assert rescale_size(420, 300)[:2] == (717, 512)
    assert rescale_size(300, 2000)[:2] == (154, 1024)  # long edge bound
    boxes, _, (h, w) = scale_boxes([[-5, -5, 500, 400]], 420, 300)
    assert boxes.tolist() == [[0.0, 0.0, float(w), float(h)]]
    with pytest.raises(ValueError):
        prepare(None, SRC_BOXES)
    with pytest.raises(ValueError):
        prepare(None, SRC_BOXES, image_size=(300, 420), with_image=True)
