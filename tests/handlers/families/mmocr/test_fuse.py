"""BatchNorm folding for serving: the folded network computes the same function (float64, every
registered MMOCR detector config, random weights and random BatchNorm statistics)."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from handlers.families.mmocr import MODEL_BUILDERS, build_model
from handlers.families.mmocr.db_head import Deconv2x2
from handlers.families.mmocr.dcn import ModulatedDeformConv2dPack
from handlers.families.mmocr.fuse import fold_batchnorm
from handlers.runtime import flatten_outputs


def _randomise(model: nn.Module, seed: int) -> None:
    """Random weights and BatchNorm statistics far from the identity, so a wrong pairing shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


@pytest.mark.parametrize("arch", sorted(MODEL_BUILDERS))
def test_folded_network_equals_the_original(arch):
    torch.manual_seed(0)
    model = build_model(arch).eval()
    _randomise(model, 0)
    model = model.double()
    folded = copy.deepcopy(model)
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    count = fold_batchnorm(folded)
    left = sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert count > 0 and count + left == n_bn
    # what stays: BatchNorms after a deformable convolution (DCNv2) or after the DB head's
    # 2x2 up-convolution (a 1x1 conv + pixel shuffle), never one after a plain convolution
    for parent in folded.modules():
        children = dict(parent.named_children())
        names = list(children)
        for k, name in enumerate(names):
            if isinstance(children[name], nn.BatchNorm2d):
                partner = {"bn": "conv"}.get(name, "conv" + name[2:] if name.startswith("bn") else "")
                source = children.get(partner) or children.get("pointwise_conv") or (
                    children[names[k - 1]] if k else None)
                assert isinstance(source, (Deconv2x2, ModulatedDeformConv2dPack)), (arch, name, type(source))
    x = torch.randn(1, 3, 128, 160, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = flatten_outputs(model(x))
        got = flatten_outputs(folded(x))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g, w = torch.as_tensor(g), torch.as_tensor(w)
        assert g.shape == w.shape
        assert float((g - w).abs().max()) <= 1e-9 * max(float(w.abs().max()), 1.0), arch


def test_training_mode_is_refused():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    with pytest.raises(ValueError, match="eval"):
        fold_batchnorm(model)
    assert fold_batchnorm(model.eval()) == 1 and isinstance(model[1], nn.Identity)


@pytest.mark.parametrize("arch", ["dbnet_resnet18_fpnc_1200e_icdar2015", "dbnetpp_resnet50-dcnv2_fpnc_1200e_icdar2015"])
def test_folded_convs_keep_the_served_layout(arch):
    """channels_last nets stay channels_last; the DCNv2 net (served NCHW) stays NCHW."""
    model = build_model(arch).eval()
    fold_batchnorm(model)
    convs = [m for m in model.modules() if type(m) is nn.Conv2d and m.kernel_size != (1, 1)]
    nhwc = "dcnv2" not in arch
    for conv in convs:
        assert conv.weight.is_contiguous(memory_format=torch.channels_last if nhwc else torch.contiguous_format)
        if nhwc:
            assert not conv.weight.is_contiguous()
