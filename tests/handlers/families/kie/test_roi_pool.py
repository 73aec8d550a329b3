"""RoIAlign (handlers.families.kie.roi_pool) vs a scalar, loop-by-loop statement of the
mmcv RoIAlign definition (avg mode), over aligned / not aligned, fixed / adaptive sampling,
spatial scales, boxes partly or fully outside the map, and degenerate boxes."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from handlers.families.kie.roi_pool import RoIAlign, bbox2roi
from handlers.ops.roi_align import roi_align


def _bilinear(fmap, y, x):
    c, h, w = fmap.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return torch.zeros(c, dtype=torch.float64)
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    hy, hx = 1 - ly, 1 - lx
    f = fmap.double()
    return hy * hx * f[:, y0, x0] + hy * lx * f[:, y0, x1] + ly * hx * f[:, y1, x0] + ly * lx * f[:, y1, x1]


def _reference(feat, rois, out, scale, ratio, aligned):
    k, c = rois.shape[0], feat.shape[1]
    res = torch.zeros(k, c, out, out, dtype=torch.float64)
    off = 0.5 if aligned else 0.0
    for r in range(k):
        b = int(rois[r, 0])
        # the RoI and bin sizes in float32, as the kernel computes them: an adaptive sample
        # count ceil(bin) must see the same bin size (a box whose bin is exactly 1 px wide in
        # float64 can be 1.0000001 px in float32)
        x1, y1, x2, y2 = (np.float32(v) * np.float32(scale) - np.float32(off) for v in rois[r, 1:].numpy())
        rw, rh = x2 - x1, y2 - y1
        if not aligned:
            rw, rh = max(rw, np.float32(1)), max(rh, np.float32(1))
        bw, bh = rw / np.float32(out), rh / np.float32(out)
        gh = ratio if ratio > 0 else math.ceil(bh)
        gw = ratio if ratio > 0 else math.ceil(bw)
        x1, y1, bw, bh = float(x1), float(y1), float(bw), float(bh)
        count = max(gh * gw, 1)
        for ph in range(out):
            for pw in range(out):
                acc = torch.zeros(c, dtype=torch.float64)
                for iy in range(max(gh, 0)):
                    y = y1 + ph * bh + (iy + 0.5) * bh / gh
                    for ix in range(max(gw, 0)):
                        x = x1 + pw * bw + (ix + 0.5) * bw / gw
                        acc += _bilinear(feat[b], y, x)
                res[r, :, ph, pw] = acc / count
    return res


ROIS = torch.tensor([
    [0, 3.0, 4.0, 20.0, 11.0],
    [1, 0.0, 0.0, 31.0, 23.0],
    [0, -6.0, -3.0, 5.0, 9.0],      # partly outside (top-left)
    [1, 25.0, 18.0, 40.0, 30.0],    # partly outside (bottom-right)
    [0, 10.0, 10.0, 10.0, 10.0],    # a point
    [1, 12.5, 7.25, 13.0, 8.0],     # smaller than a pixel
    [0, 50.0, 50.0, 60.0, 60.0],    # fully outside
])


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("ratio", [0, 2])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_matches_scalar_reference(aligned, ratio, scale):
    torch.manual_seed(3)
    feat = torch.randn(2, 3, 24, 32)
    got = roi_align(feat, ROIS, 4, scale, ratio, aligned)
    want = _reference(feat, ROIS, 4, scale, ratio, aligned)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)


def test_module_and_bbox2roi():
    layer = RoIAlign(7)
    assert (layer.spatial_scale, layer.sampling_ratio, layer.aligned) == (1.0, 0, True)
    rois = bbox2roi([torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.tensor([[5.0, 6.0, 7.0, 8.0]] * 2)])
    assert rois.tolist() == [[0, 1, 2, 3, 4], [1, 5, 6, 7, 8], [1, 5, 6, 7, 8]]
    out = layer(torch.ones(2, 4, 16, 16), rois)
    assert out.shape == (3, 4, 7, 7)
    torch.testing.assert_close(out, torch.ones_like(out))  # constant map stays constant inside


@pytest.mark.parametrize("aligned,ratio", [(True, 0), (False, 2)])
def test_gradient_matches_the_scalar_reference(aligned, ratio):
    # the backward pass is written by hand (Wy.T @ grad @ Wx added into one map): check it
    # numerically and against autograd through the scalar statement of the definition
    torch.manual_seed(5)
    feat = torch.randn(2, 1, 9, 12, dtype=torch.float64, requires_grad=True)
    rois = ROIS[:4] * torch.tensor([1.0, 0.4, 0.4, 0.4, 0.4])  # two images, two partly outside
    assert torch.autograd.gradcheck(lambda f: roi_align(f, rois, 3, 1.0, ratio, aligned), (feat,))
    weights = torch.randn(len(rois), 1, 3, 3, dtype=torch.float64)
    got, = torch.autograd.grad((roi_align(feat, rois, 3, 1.0, ratio, aligned) * weights).sum(), feat)
    want, = torch.autograd.grad((_reference(feat, rois, 3, 1.0, ratio, aligned) * weights).sum(), feat)
    assert want.abs().sum() > 0
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
