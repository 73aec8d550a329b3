"""Serving-time folding of inference BatchNorm into the convolution before it.

In eval mode a BatchNorm2d is a per-channel affine map, so `bn(conv(x))` equals one convolution
with scaled weights and a shifted bias. ONNX Runtime does this when it loads a graph; eager torch
does not, and the extra pass over every feature map was a good part of why the ResNet-50
detectors ran 1.25-1.6x slower than their ONNX export on one CPU thread (bench/RESULTS-det-onnx.md).

Which BatchNorm follows which convolution is read from MMOCR's module names, which is how MMOCR
(and mmcv's ConvModule) build them: siblings `conv`/`bn`, `convN`/`bnN` and
`pointwise_conv`/`bn`, and a Conv2d directly followed by a BatchNorm2d inside an nn.Sequential.
Deformable convolutions (DCNv2) keep their BatchNorm. The folded module is for inference only: its
state_dict no longer has the BatchNorm keys, so fold after loading the checkpoint.
tests/handlers/families/mmocr/test_fuse.py checks every registered config in float64 (folded == unfolded).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def _partners(name: str) -> tuple[str, ...]:
    """The names the convolution a BatchNorm of this name normalises may have (MMOCR's naming;
    `pointwise_conv`: the separable convolutions of PANet's FPEM)."""
    if name == "bn":
        return ("conv", "pointwise_conv")
    if name.startswith("bn") and name[2:].isdigit():
        return ("conv" + name[2:],)
    return ()


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (type(conv) is nn.Conv2d and type(bn) is nn.BatchNorm2d and bn.track_running_stats
            and bn.running_mean is not None and conv.out_channels == bn.num_features)


def fold_batchnorm(model: nn.Module) -> int:
    """Fold every eval-mode BatchNorm2d into its convolution, in place; returns how many.

    The model must be in eval mode (training-mode BatchNorm uses batch statistics)."""
    if model.training:
        raise ValueError("fold_batchnorm needs a model in eval mode")
    # the served nets are channels_last except the DCNv2 ones; a folded conv keeps the net's
    # layout (a 1x1 weight alone cannot tell, and one NHWC conv in an NCHW net costs reorders)
    nhwc = any(type(m) is nn.Conv2d and m.weight.dim() == 4 and m.weight.shape[-1] > 1
               and not m.weight.is_contiguous() and m.weight.is_contiguous(memory_format=torch.channels_last)
               for m in model.modules())
    fmt = torch.channels_last if nhwc else torch.contiguous_format
    folded = 0
    for parent in list(model.modules()):
        children = dict(parent.named_children())
        pairs: list[tuple[str, str]] = []
        if isinstance(parent, nn.Sequential):
            names = list(children)
            pairs += [(a, b) for a, b in zip(names, names[1:]) if _foldable(children[a], children[b])]
        for name, child in children.items():
            for conv_name in _partners(name):
                if (conv_name in children and _foldable(children[conv_name], child)
                        and (conv_name, name) not in pairs):
                    pairs.append((conv_name, name))
                    break
        for conv_name, bn_name in pairs:
            conv, bn = children[conv_name], children[bn_name]
            fused = fuse_conv_bn_eval(conv, bn).to(memory_format=fmt)
            setattr(parent, conv_name, fused)
            setattr(parent, bn_name, nn.Identity())
            folded += 1
    return folded
