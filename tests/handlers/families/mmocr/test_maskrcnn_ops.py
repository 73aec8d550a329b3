"""Mask R-CNN stages against independent constructions (anchors, deltas, NMS, RoIAlign, paste, polygons)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from handlers.families.mmocr.maskrcnn_boxes import (
    delta_decode, delta_encode, grid_anchors, multilevel_roi_align, roi_levels)
from handlers.families.mmocr.maskrcnn_post import mask_polygons, maskrcnn_postprocess, paste_mask
from handlers.ops import nms as nms_module
from handlers.ops.nms import batched_nms, nms
from tests.handlers.families.kie.test_roi_pool import _reference as scalar_roi_align

RATIOS = (0.17, 0.44, 1.13, 2.90, 7.46)


@pytest.mark.parametrize("stride,size", [(4, (5, 7)), (16, (3, 4)), (64, (2, 1))])
def test_anchors_per_level(stride, size):
    anchors = grid_anchors(size, stride, (4,), RATIOS)
    h, w = size
    assert anchors.shape == (h * w * len(RATIOS), 4)
    wh = anchors[:, 2:] - anchors[:, :2]
    centres = (anchors[:, :2] + anchors[:, 2:]) / 2
    for row, (y, x, a) in enumerate((y, x, a) for y in range(h) for x in range(w) for a in range(5)):
        assert centres[row].tolist() == pytest.approx([x * stride, y * stride], abs=1e-4)
        assert float(wh[row, 1] / wh[row, 0]) == pytest.approx(RATIOS[a], rel=1e-5)
        assert float(wh[row, 0] * wh[row, 1]) == pytest.approx((4 * stride) ** 2, rel=1e-5)


def test_delta_round_trip_clamps_and_clipping():
    g = torch.Generator().manual_seed(0)
    rois = torch.rand(50, 2, generator=g) * 300
    rois = torch.cat([rois, rois + 5 + torch.rand(50, 2, generator=g) * 200], 1)
    boxes = torch.rand(50, 2, generator=g) * 300
    boxes = torch.cat([boxes, boxes + 5 + torch.rand(50, 2, generator=g) * 200], 1)
    for stds in ((1.0, 1.0, 1.0, 1.0), (0.1, 0.1, 0.2, 0.2)):
        deltas = delta_encode(rois, boxes, stds)
        assert torch.allclose(delta_decode(rois, deltas, stds), boxes, atol=1e-3)
    roi = torch.tensor([[100.0, 100.0, 110.0, 120.0]])
    big = delta_decode(roi, torch.tensor([[0.0, 0.0, 50.0, -50.0]]), (1, 1, 1, 1))
    ratio = 1000 / 16  # |log(16 / 1000)| clamp on dw, dh
    assert float(big[0, 2] - big[0, 0]) == pytest.approx(10 * ratio, rel=1e-5)
    assert float(big[0, 3] - big[0, 1]) == pytest.approx(20 / ratio, abs=1e-4)  # float32 at y ~ 110
    clipped = delta_decode(roi, torch.tensor([[0.0, 0.0, 50.0, 50.0]]), (1, 1, 1, 1), max_shape=(150, 130))
    assert clipped[0].tolist() == pytest.approx([0.0, 0.0, 130.0, 150.0])


def _brute_force_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    keep: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        ok = True
        for j in keep:
            iw = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
            ih = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
            inter = iw * ih
            area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
            if inter / (area(boxes[i]) + area(boxes[j]) - inter) > thr:
                ok = False
                break
        if ok:
            keep.append(int(i))
    return keep


@pytest.mark.parametrize("seed,thr", [(0, 0.5), (1, 0.7), (2, 0.1)])
def test_nms_equals_brute_force(seed, thr):
    rs = np.random.RandomState(seed)
    xy = rs.uniform(0, 100, (300, 2))
    boxes = np.concatenate([xy, xy + rs.uniform(5, 40, (300, 2))], 1)
    scores = rs.uniform(0, 1, 300)
    got = nms(torch.tensor(boxes), torch.tensor(scores), thr).tolist()
    assert got == _brute_force_nms(boxes, scores, thr)
    cats = rs.randint(0, 3, 300)
    got = batched_nms(torch.tensor(boxes), torch.tensor(scores), torch.tensor(cats), thr).tolist()
    want = []
    for c in range(3):
        idx = np.flatnonzero(cats == c)
        want += [int(idx[k]) for k in _brute_force_nms(boxes[idx], scores[idx], thr)]
    assert got == sorted(want, key=lambda i: -scores[i])



def test_nms_is_the_same_whatever_the_block_size(monkeypatch):
    # boxes are decided a block at a time (against the boxes kept in earlier blocks, then among
    # themselves): a block seam must not change which boxes survive
    rs = np.random.RandomState(4)
    xy = rs.uniform(0, 60, (200, 2))
    boxes = np.concatenate([xy, xy + rs.uniform(10, 40, (200, 2))], 1).astype(np.float32)
    scores = rs.uniform(0, 1, 200).astype(np.float32)
    want = _brute_force_nms(boxes, scores, 0.4)
    for block in (7, 64, 1024):
        monkeypatch.setattr(nms_module, "_BLOCK", block)
        assert nms(torch.tensor(boxes), torch.tensor(scores), 0.4).tolist() == want, block
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).tolist() == []

def test_multilevel_roi_align_matches_scalar_roi_align_at_level_boundaries():
    g = torch.Generator().manual_seed(0)
    strides = (4, 8, 16, 32)
    feats = [torch.randn(1, 8, 256 // s, 320 // s, generator=g) for s in strides]
    # sqrt(area) just below / at the 112, 224, 448 boundaries, tiny, huge, partly outside
    sides = [20.0, 111.9, 112.0, 223.9, 224.0, 447.9, 448.0, 600.0]
    rois = torch.tensor([[0.0, 30.3, 10.7, 30.3 + s, 10.7 + s * 0.9] for s in sides]
                        + [[0.0, -20.0, 200.0, 90.0, 300.0]])
    side = torch.sqrt((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2]))
    levels = roi_levels(rois, 4)
    want_levels = torch.clamp(torch.floor(torch.log2(side / 56 + 1e-6)), 0, 3).long()
    assert levels.tolist() == want_levels.tolist()
    assert sorted(set(levels.tolist())) == [0, 1, 2, 3]
    for size in (7, 14):
        got = multilevel_roi_align(feats, rois, strides, size)
        for k in range(len(rois)):
            lvl = int(levels[k])
            ref = scalar_roi_align(feats[lvl], rois[k:k + 1], size, 1 / strides[lvl], 0, True)
            assert torch.allclose(got[k].double(), ref[0], atol=2e-5), (k, size)


def test_constant_mask_pasted_fills_exactly_the_box():
    for box in ([10, 20, 50, 40], [3, 0, 40, 30], [0, 5, 7, 9], [3, 0, 100, 64]):
        probs, (x0, y0) = paste_mask(np.ones((28, 28), np.float32), box, 64, 100)
        canvas = np.zeros((64, 100), bool)
        canvas[y0:y0 + probs.shape[0], x0:x0 + probs.shape[1]] = probs >= 0.5
        want = np.zeros((64, 100), bool)
        want[box[1]:box[3], box[0]:box[2]] = True
        if box[2] - box[0] > 60:
            # grid_sample's zero padding: a corner pixel weighs (0.5 + 14 / w)(0.5 + 14 / h)
            # < 0.5 for a box this big, so exactly the four corners drop out (as in mmdet)
            for y, x in ((0, 3), (0, 99), (63, 3), (63, 99)):
                assert want[y, x] and not canvas[y, x]
                want[y, x] = False
        assert np.array_equal(canvas, want), box


def _grid_sample_paste(mask: np.ndarray, box, img_h: int, img_w: int) -> np.ndarray:
    """Reference: mmdet's paste (image pixel centres -> [-1, 1] box frame -> grid_sample)."""
    x0, y0, x1, y1 = (torch.tensor(float(v)) for v in box)
    ys = (torch.arange(img_h, dtype=torch.float32) + 0.5 - y0) / (y1 - y0) * 2 - 1
    xs = (torch.arange(img_w, dtype=torch.float32) + 0.5 - x0) / (x1 - x0) * 2 - 1
    grid = torch.stack([xs[None, :].expand(img_h, img_w), ys[:, None].expand(img_h, img_w)], -1)
    return F.grid_sample(torch.from_numpy(mask)[None, None], grid[None], align_corners=False)[0, 0].numpy()


def test_paste_matches_grid_sample():
    rs = np.random.RandomState(0)
    for _ in range(10):
        mask = rs.uniform(0, 1, (28, 28)).astype(np.float32)
        x1, y1 = rs.uniform(-5, 60, 2)
        box = [x1, y1, x1 + rs.uniform(2, 70), y1 + rs.uniform(2, 50)]
        probs, (x0, y0) = paste_mask(mask, box, 80, 120)
        full = np.zeros((80, 120), np.float32)
        full[y0:y0 + probs.shape[0], x0:x0 + probs.shape[1]] = probs
        assert np.allclose(full, _grid_sample_paste(mask, box, 80, 120), atol=1e-5)


def test_mask_polygons_on_constructed_masks():
    mask = np.zeros((40, 60), bool)
    mask[5:15, 10:30] = True  # a rectangle
    mask[20:35, 35:55] = True
    mask[25:30, 40:50] = False  # a ring: outer boundary + hole boundary
    mask[2, 2] = True  # a single pixel: fewer than 3 contour points
    polys = mask_polygons(mask, offset=(100, 200))
    assert len(polys) == 3
    boxes = sorted((p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()) for p in polys)
    assert boxes == [(110, 205, 129, 214), (135, 220, 154, 234), (139, 224, 150, 230)]
    assert mask_polygons(np.zeros((5, 5), bool)) == []


def test_postprocess_goes_back_to_original_pixels():
    masks = np.ones((2, 28, 28), np.float32)
    masks[1] = 0.2  # below mask_thr_binary: no polygon
    boxes = np.array([[10, 20, 50, 40], [0, 0, 30, 30]], np.float32)
    polys, scores = maskrcnn_postprocess(boxes, np.array([0.9, 0.8]), masks, (100, 150), (0.5, 0.5))
    assert scores == [pytest.approx(0.9)] and len(polys) == 1
    assert (polys[0].min(0).tolist(), polys[0].max(0).tolist()) == ([20, 40], [99, 79])
    with pytest.raises(ValueError, match="poly"):
        maskrcnn_postprocess(boxes, np.ones(2), masks, (100, 150), (1, 1), text_repr_type="quad")
    assert math.isfinite(float(scores[0]))
