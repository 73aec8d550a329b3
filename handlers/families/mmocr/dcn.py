"""Modulated deformable convolution (DCNv2) in plain PyTorch, mmcv-compatible names.

``ModulatedDeformConv2dPack`` has mmcv's parameters: ``weight`` (O, C/groups, kh, kw),
optional ``bias`` and ``conv_offset`` (a Conv2d with the same kernel/stride/padding/
dilation producing 3 * deform_groups * kh * kw channels). Its output is split in three
equal chunks ``o1, o2, m``; ``cat(o1, o2)`` are the offsets, laid out per deform group
and kernel tap k = i * kw + j as (dy, dx) pairs (channel 2k = dy, 2k + 1 = dx), and
``sigmoid(m)`` are the modulation masks (channel k per group). Each tap samples the
input bilinearly at (y * stride - pad + i * dilation + dy, x * stride - pad + j *
dilation + dx); taps outside the image read zeros corner by corner (as DCN's kernels
do). The sampled columns are multiplied by the mask and contracted with ``weight``.

Runs on CPU without compiled ops; slower and more memory-hungry than mmcv's kernel
(it materialises the (N, C, kh*kw, H_out*W_out) column tensor).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair


def _bilinear_gather(x: torch.Tensor, py: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Sample x (N, G, Cg, H, W) at float positions py/px (N, G, P) -> (N, G, Cg, P)."""
    n, g, cg, h, w = x.shape
    flat = x.reshape(n, g, cg, h * w)
    y0 = torch.floor(py)
    x0 = torch.floor(px)
    ly, lx = py - y0, px - x0
    hy, hx = 1.0 - ly, 1.0 - lx
    y0 = y0.long()
    x0 = x0.long()
    out = None
    for dy, dx, wgt in ((0, 0, hy * hx), (0, 1, hy * lx), (1, 0, ly * hx), (1, 1, ly * lx)):
        yy, xx = y0 + dy, x0 + dx
        valid = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        idx = (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1))
        vals = torch.gather(flat, 3, idx.unsqueeze(2).expand(n, g, cg, idx.shape[-1]))
        term = vals * (wgt * valid.to(x.dtype)).unsqueeze(2)
        out = term if out is None else out + term
    return out


def modulated_deform_conv2d(x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor,
                            weight: torch.Tensor, bias: torch.Tensor | None,
                            stride=1, padding=0, dilation=1, groups: int = 1,
                            deform_groups: int = 1) -> torch.Tensor:
    """DCNv2: offsets (N, 2*dg*K, Ho, Wo) as (dy, dx) per tap, masks (N, dg*K, Ho, Wo)."""
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    n, c, h, w = x.shape
    out_c, _, kh, kw = weight.shape
    k = kh * kw
    ho, wo = offset.shape[-2:]
    if c % deform_groups or c % groups or out_c % groups:
        raise ValueError("channels must be divisible by groups and deform_groups")
    off = offset.reshape(n, deform_groups, k, 2, ho * wo)
    msk = mask.reshape(n, deform_groups, k, ho * wo)
    dev, dt = x.device, x.dtype
    base_y = (torch.arange(ho, device=dev, dtype=dt) * sh - ph).view(ho, 1).expand(ho, wo)
    base_x = (torch.arange(wo, device=dev, dtype=dt) * sw - pw).view(1, wo).expand(ho, wo)
    tap_y = (torch.arange(kh, device=dev, dtype=dt) * dh).repeat_interleave(kw)
    tap_x = (torch.arange(kw, device=dev, dtype=dt) * dw).repeat(kh)
    py = base_y.reshape(1, 1, 1, -1) + tap_y.view(1, 1, k, 1) + off[:, :, :, 0]
    px = base_x.reshape(1, 1, 1, -1) + tap_x.view(1, 1, k, 1) + off[:, :, :, 1]
    xg = x.reshape(n, deform_groups, c // deform_groups, h, w)
    cols = _bilinear_gather(xg, py.reshape(n, deform_groups, k * ho * wo),
                            px.reshape(n, deform_groups, k * ho * wo))
    cols = cols.reshape(n, deform_groups, c // deform_groups, k, ho * wo) * msk.unsqueeze(2)
    cols = cols.reshape(n, groups, (c // groups) * k, ho * wo)
    wmat = weight.reshape(groups, out_c // groups, (c // groups) * k)
    out = torch.einsum("gok,ngkp->ngop", wmat, cols).reshape(n, out_c, ho, wo)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


class ModulatedDeformConv2dPack(nn.Module):
    """Drop-in for mmcv's ModulatedDeformConv2dPack ('DCNv2' conv layer)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1,
                 padding=0, dilation=1, groups: int = 1, deform_groups: int = 1,
                 bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        self.groups, self.deform_groups = groups, deform_groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups,
                                               *self.kernel_size))
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_channels))
        else:
            self.register_parameter("bias", None)
        self.conv_offset = nn.Conv2d(
            in_channels, deform_groups * 3 * self.kernel_size[0] * self.kernel_size[1],
            self.kernel_size, stride=self.stride, padding=self.padding,
            dilation=self.dilation, bias=True)
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        # Zero offsets and mask logits: starts as a plain conv scaled by sigmoid(0).
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o1, o2, m = torch.chunk(self.conv_offset(x), 3, dim=1)
        return modulated_deform_conv2d(
            x, torch.cat((o1, o2), dim=1), torch.sigmoid(m), self.weight, self.bias,
            self.stride, self.padding, self.dilation, self.groups, self.deform_groups)

