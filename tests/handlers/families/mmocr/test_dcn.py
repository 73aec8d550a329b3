"""Pure-torch DCNv2 (ModulatedDeformConv2dPack) and the DCNv2 ResNet-50 DBNet++.

No mmcv output exists for DCN here, so the op is checked against (a) analytic cases
(zero offsets = conv * sigmoid(0); integer offsets = shifted conv) and (b) an
independent slow route through F.grid_sample(align_corners=True, zeros padding), and
the DCNv2 DBNet++ is checked end to end against the plain one (zero offsets, doubled
conv2 weights) in float64, where they must agree to rounding.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.nn.modules.utils import _pair

from handlers.families.mmocr import build_model
from handlers.families.mmocr.dcn import ModulatedDeformConv2dPack, modulated_deform_conv2d
from handlers.families.mmocr.resnet import ResNet

DCN_NAME = "dbnetpp_resnet50-dcnv2_fpnc_1200e_icdar2015"


def _grid_sample_reference(x, offset, mask, weight, bias, stride, padding, dilation,
                           deform_groups=1):
    """One grid_sample per (deform group, kernel tap); offsets as (dy, dx) per tap."""
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    n, c, h, w = x.shape
    out_c, _, kh, kw = weight.shape
    k = kh * kw
    ho, wo = offset.shape[-2:]
    ys = (torch.arange(ho, dtype=x.dtype) * sh - ph).view(ho, 1)
    xs = (torch.arange(wo, dtype=x.dtype) * sw - pw).view(1, wo)
    cg = c // deform_groups
    out = torch.zeros(n, out_c, ho, wo, dtype=x.dtype)
    for g in range(deform_groups):
        xg = x[:, g * cg:(g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                t = i * kw + j
                py = ys + i * dh + offset[:, g * 2 * k + 2 * t]
                px = xs + j * dw + offset[:, g * 2 * k + 2 * t + 1]
                grid = torch.stack((2 * px / (w - 1) - 1, 2 * py / (h - 1) - 1), dim=-1)
                sampled = F.grid_sample(xg, grid, mode="bilinear", padding_mode="zeros",
                                        align_corners=True)
                sampled = sampled * mask[:, g * k + t:g * k + t + 1]
                out += torch.einsum("oc,nchw->nohw", weight[:, g * cg:(g + 1) * cg, i, j],
                                    sampled)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def test_state_dict_names_follow_mmcv():
    layer = ModulatedDeformConv2dPack(8, 16, 3, padding=1, bias=False, deform_groups=2)
    shapes = {k: tuple(v.shape) for k, v in layer.state_dict().items()}
    assert shapes == {"weight": (16, 8, 3, 3), "conv_offset.weight": (54, 8, 3, 3),
                      "conv_offset.bias": (54,)}


def test_zero_offsets_give_half_a_plain_conv():
    torch.manual_seed(0)
    layer = ModulatedDeformConv2dPack(6, 5, 3, stride=2, padding=1).double()
    x = torch.randn(2, 6, 11, 9, dtype=torch.float64)
    ref = 0.5 * F.conv2d(x, layer.weight, None, 2, 1) + layer.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(layer(x), ref, rtol=1e-12, atol=1e-12)


def test_integer_offsets_shift_the_input():
    """dy = +1 on every tap samples one row lower: a conv of the up-shifted input."""
    torch.manual_seed(1)
    x = torch.randn(1, 4, 7, 8, dtype=torch.float64)
    weight = torch.randn(3, 4, 3, 3, dtype=torch.float64)
    offset = torch.zeros(1, 18, 7, 8, dtype=torch.float64)
    offset[:, 0::2] = 1.0  # channel 2k is dy of tap k
    mask = torch.ones(1, 9, 7, 8, dtype=torch.float64)
    out = modulated_deform_conv2d(x, offset, mask, weight, None, 1, 1, 1)
    # Output row r, tap row i reads input row r - 1 + i + 1: pad 0 rows on top, 2 below.
    shifted = F.pad(x, (1, 1, 0, 2))
    torch.testing.assert_close(out, F.conv2d(shifted, weight), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride,padding,dilation,dg", [(1, 1, 1, 1), (2, 1, 1, 2), (1, 2, 2, 1)])
def test_fractional_offsets_match_grid_sample_route(stride, padding, dilation, dg):
    torch.manual_seed(2)
    x = torch.randn(2, 4, 9, 10, dtype=torch.float64)
    weight = torch.randn(5, 4, 3, 3, dtype=torch.float64)
    bias = torch.randn(5, dtype=torch.float64)
    ho = (9 + 2 * padding - dilation * 2 - 1) // stride + 1
    wo = (10 + 2 * padding - dilation * 2 - 1) // stride + 1
    offset = 3 * torch.randn(2, dg * 18, ho, wo, dtype=torch.float64)  # some fall outside
    mask = torch.rand(2, dg * 9, ho, wo, dtype=torch.float64)
    ours = modulated_deform_conv2d(x, offset, mask, weight, bias, stride, padding, dilation,
                                   1, dg)
    ref = _grid_sample_reference(x, offset, mask, weight, bias, stride, padding, dilation, dg)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)


def test_dcn_resnet_options():
    net = ResNet(50, dcn={"type": "DCNv2", "deform_groups": 1, "fallback_on_stride": False},
                 stage_with_dcn=(False, True, True, True))
    keys = net.state_dict()
    assert "layer1.0.conv2.conv_offset.weight" not in keys
    assert keys["layer2.0.conv2.conv_offset.weight"].shape == (27, 128, 3, 3)
    assert "layer2.0.conv2.bias" not in keys
    with pytest.raises(ValueError, match="DCNv2"):
        ResNet(50, dcn={"type": "DCN"}, stage_with_dcn=(False, True, True, True))
    with pytest.raises(ValueError, match="BasicBlock"):
        ResNet(18, dcn={"type": "DCNv2"}, stage_with_dcn=(False, True, True, True))


def test_dcnv2_dbnetpp_equals_plain_dbnetpp_with_zero_offsets():
    torch.manual_seed(3)
    plain = build_model("dbnetpp_resnet50_fpnc_1200e_icdar2015").double()
    dcn = build_model(DCN_NAME).double()
    base = plain.state_dict()
    own = dcn.state_dict()
    offsets = [k for k in own if ".conv_offset." in k]
    assert len(offsets) == 2 * (4 + 6 + 3) and set(own) - set(offsets) == set(base)
    state = {}
    for key, value in own.items():
        if key in offsets:
            state[key] = torch.zeros_like(value)
        elif key.endswith(".conv2.weight") and key[:-6] + "conv_offset.weight" in own:
            state[key] = 2 * base[key]  # sigmoid(0) = 0.5 modulation
        else:
            state[key] = base[key]
    dcn.load_state_dict(state, strict=True)
    x = torch.randn(1, 3, 128, 96, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(dcn(x), plain(x), rtol=1e-9, atol=1e-12)
