"""Mask R-CNN: state_dict names, strict load, and the whole detector on a real photo."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from handlers.families.mmocr import MODEL_BUILDERS, build_model
from handlers.families.mmocr.maskrcnn import (
    DEFAULT_CFGS, MaskRCNNOutput, build_maskrcnn, maskrcnn_params_kwargs, valid_shape)
from handlers.families.mmocr.maskrcnn_boxes import delta_decode, grid_anchors, multilevel_roi_align
from handlers.families.mmocr.maskrcnn_post import maskrcnn_postprocess
from handlers.predictors.mmocr_det import MMOCRDetConfig, MMOCRDetector, family_of, preprocess
from handlers.runtime import load_checkpoint_runner
from tests.conftest import data_path
from tests.oracle import weights_tools

ARCH = "mask-rcnn_resnet50_fpn_160e_icdar2015"
KEYS = Path(__file__).parent / "keys" / "maskrcnn_resnet50_fpn.keys.txt"


def _fixture_keys() -> dict[str, tuple[int, ...]]:
    rows = [line.split(" ") for line in KEYS.read_text().splitlines() if not line.startswith("#")]
    return {key: tuple(int(v) for v in shape.split(",") if v) for key, shape in rows}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """Weights regenerated with the oracle's gen_array for every key of the fixture."""
    gen_array = weights_tools().gen_array

    state = {key: (torch.zeros((), dtype=torch.long) if key.endswith("num_batches_tracked")
                   else torch.from_numpy(gen_array(key, shape, not key.endswith(("running_mean", "running_var")))))
             for key, shape in _fixture_keys().items()}
    path = tmp_path_factory.mktemp("maskrcnn") / "maskrcnn.pth"
    torch.save({"state_dict": state, "meta": {}}, path)
    return path


def test_registry_keys_and_configs():
    assert set(DEFAULT_CFGS) <= set(MODEL_BUILDERS)
    model = build_maskrcnn(ARCH)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == _fixture_keys()
    ctw = DEFAULT_CFGS["mask-rcnn_resnet50_fpn_160e_ctw1500"]
    assert ctw["test_resize"]["scale"] == (1600, 1600) and DEFAULT_CFGS[ARCH]["test_resize"]["scale"] == (1920, 1920)
    assert {k: v for k, v in ctw.items() if k != "test_resize"} == \
        {k: v for k, v in DEFAULT_CFGS[ARCH].items() if k != "test_resize"}
    assert family_of(ARCH).torch_only and maskrcnn_params_kwargs(ARCH)["mask_thr_binary"] == 0.5
    with pytest.raises(ValueError, match="mask-rcnn_resnet50_fpn_160e_ctw1500"):
        build_maskrcnn("mask-rcnn_resnet50_fpn_160e_totaltext")


def test_fifth_level_and_valid_shape():
    model = build_maskrcnn(ARCH)
    x = torch.zeros(1, 3, 128, 96)
    x[:, :, :100, :90] = torch.randn(1, 3, 100, 90)
    with torch.no_grad():
        feats = model.features(x)
    assert [tuple(f.shape[2:]) for f in feats] == [(32, 24), (16, 12), (8, 6), (4, 3), (2, 2)]
    assert torch.equal(feats[4], feats[3][:, :, ::2, ::2])
    assert valid_shape(x[0]) == (100, 90)


@pytest.fixture(scope="module")
def detector(checkpoint):
    runner = load_checkpoint_runner(build_model(ARCH), checkpoint, convert=lambda c: c["state_dict"])
    # the config's own resize is 1920 on the long side; 640 keeps this unit test fast
    cfg = dataclasses.replace(MMOCRDetConfig.from_dict({"arch": ARCH}),
                              resize={"type": "Resize", "scale": (640, 640), "keep_ratio": True})
    return MMOCRDetector(runner, cfg)


def test_real_photo_through_the_detector_table(detector):
    image = cv2.imread(str(data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg")))
    dets = detector(image)
    assert len(dets) > 0
    h, w = image.shape[:2]
    for det in dets:
        assert det.polygon.shape[0] >= 3 and 0.05 < det.score <= 1
        assert (det.polygon >= 0).all() and (det.polygon[:, 0] <= w - 1).all() and (det.polygon[:, 1] <= h - 1).all()
    # by hand (a second run, so this also shows a batch of 1 is deterministic): preprocessing,
    # the module's test path, the numpy post-processing
    tensor, scale = preprocess(image, detector.cfg)
    assert tensor.shape == (1, 3, 384, 640) and scale == pytest.approx((0.5, 0.5))
    module, x = detector.runner.module, torch.from_numpy(tensor)
    with torch.no_grad():
        feats = module.features(x)
        proposals = module.proposals(*module.wrapped_model.rpn_head(feats), (360, 640))
        boxes, box_scores = module.refine(feats, proposals, (360, 640))
        out = MaskRCNNOutput(boxes, box_scores, module.masks(feats, boxes), valid_shape(x[0]))
    assert out.img_shape == (360, 640)
    assert 0 < len(out.scores) <= 100 and bool((out.scores[:-1] >= out.scores[1:]).all())
    assert float(out.boxes[:, 2].max()) <= 640 and float(out.boxes[:, 3].max()) <= 360
    polys, scores = maskrcnn_postprocess(out.boxes.numpy(), out.scores.numpy(), out.masks.numpy(),
                                         out.img_shape, scale, **maskrcnn_params_kwargs(ARCH))
    assert len(polys) == len(dets)
    for det, poly, score in zip(dets, polys, scores):
        assert np.array_equal(det.polygon, np.clip(poly, 0, [w - 1, h - 1]))  # exactly equal
        assert det.score == pytest.approx(score)
    # masks come from the boxes: each polygon lies within its (original-pixel) box + 1 px
    boxes = out.boxes.numpy() / np.array([scale[0], scale[1]] * 2)
    assert all(any((p.min(0) >= b[:2] - 1).all() and (p.max(0) <= b[2:] + 1).all() for b in boxes) for p in polys)


def test_rpn_maps_and_proposals(detector):
    module = detector.runner.module
    x = torch.randn(1, 3, 128, 160, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        cls_maps, reg_maps = module(x)
        props = module.proposals(cls_maps, reg_maps, (128, 160))
    assert [tuple(c.shape[1:]) for c in cls_maps] == [(5, 32, 40), (5, 16, 20), (5, 8, 10), (5, 4, 5), (5, 2, 3)]
    assert all(r.shape[1] == 20 for r in reg_maps)
    assert 0 < len(props) <= 1000
    assert float(props[:, 0::2].max()) <= 160 and float(props[:, 1::2].max()) <= 128 and float(props.min()) >= 0
    assert bool(((props[:, 2:] - props[:, :2]) > 0).all())
    assert F.relu(props).equal(props)
    # independently: per level sigmoid, top 1000, decode, then a brute-force NMS per level
    boxes, scores, levels = [], [], []
    for level, (cls, reg) in enumerate(zip(cls_maps, reg_maps)):
        stride = 4 * 2 ** level
        score = torch.sigmoid(cls[0]).permute(1, 2, 0).reshape(-1)
        anchors = grid_anchors(tuple(cls.shape[2:]), stride, (4,), (0.17, 0.44, 1.13, 2.90, 7.46))
        top = torch.argsort(score, descending=True)[:1000]
        boxes.append(delta_decode(anchors[top], reg[0].permute(1, 2, 0).reshape(-1, 4)[top], (1, 1, 1, 1), (128, 160)))
        scores.append(score[top])
        levels += [level] * len(top)
    boxes, scores, levels = torch.cat(boxes).double().numpy(), torch.cat(scores).numpy(), np.array(levels)
    kept = []
    ok = ((boxes[:, 2:] - boxes[:, :2]) > 0).all(1)  # min_bbox_size 0: clipped-away boxes go
    assert not ok.all()  # this input has some, so the rule is exercised
    for level in range(5):
        idx = np.flatnonzero((levels == level) & ok)
        kept += [int(idx[k]) for k in _brute_force_nms(boxes[idx], scores[idx], 0.7)]
    kept = sorted(kept, key=lambda i: -scores[i])[:1000]
    assert np.allclose(props.numpy(), boxes[kept], atol=1e-4)


def _brute_force_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    keep: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if keep:
            k = boxes[keep]
            iw = np.clip(np.minimum(k[:, 2], boxes[i, 2]) - np.maximum(k[:, 0], boxes[i, 0]), 0, None)
            ih = np.clip(np.minimum(k[:, 3], boxes[i, 3]) - np.maximum(k[:, 1], boxes[i, 1]), 0, None)
            area = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
            areas = (k[:, 2] - k[:, 0]) * (k[:, 3] - k[:, 1])
            if (iw * ih / (area + areas - iw * ih) > thr).any():
                continue
        keep.append(int(i))
    return keep


def test_box_head_stage_by_formula(detector):
    module = detector.runner.module
    x = torch.randn(1, 3, 128, 160, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        feats = module.features(x)
        props = module.proposals(*module.wrapped_model.rpn_head(feats), (128, 160))
        boxes, scores = module.refine(feats, props, (128, 160))
        rois = torch.cat([torch.zeros(len(props), 1), props], 1)
        logits, deltas = module.wrapped_model.roi_head.bbox_head(
            multilevel_roi_align(feats[:4], rois, (4, 8, 16, 32), 7))
    prob = torch.softmax(logits, -1)[:, 0].numpy()  # column 1 is the background
    decoded = delta_decode(props, deltas, (0.1, 0.1, 0.2, 0.2), (128, 160)).double().numpy()
    idx = np.flatnonzero(prob > 0.05)
    kept = [int(idx[k]) for k in _brute_force_nms(decoded[idx], prob[idx], 0.5)][:100]
    assert 0 < len(kept) == len(boxes)
    assert np.allclose(boxes.numpy(), decoded[kept], atol=1e-4) and np.allclose(scores.numpy(), prob[kept])


def test_cli_archive_builds_a_served_model(checkpoint, tmp_path):
    from service.tooling.cli import main
    from service.gateway.zoo import load_zoo
    from tests.handlers.checkpoints import private_zoo, unpacked_handler

    zoo = private_zoo(tmp_path)
    assert main(["--zoo", str(zoo), "archive", "--arch", ARCH, "--checkpoint", str(checkpoint),
                 "--name", "mymask", "--store", str(tmp_path / "store")]) == 0
    entry = load_zoo(zoo).get("mymask")
    assert (entry.task, entry.runtime, entry.config["arch"]) == ("det", "torch", ARCH)
    handler = unpacked_handler(tmp_path / "store" / "mymask.mar", tmp_path / "unpacked")
    module = handler.handler.model.runner.module  # the Mask R-CNN, checkpoint loaded strictly
    assert type(module).__name__ == "MaskRCNN"
    reference = torch.load(checkpoint, weights_only=True)["state_dict"]
    state = module.state_dict()
    assert all(torch.equal(state[k], reference[k]) for k in ("wrapped_model.roi_head.mask_head.conv_logits.weight",
                                                             "wrapped_model.rpn_head.rpn_cls.bias"))
