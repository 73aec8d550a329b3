"""ONNX graphs of the zoo (PP-OCR detectors and recognisers) as trainable PyTorch modules.

The conversion itself is onnx2torch's. Two things stand between it and the PP-OCR exports, and both
are handled here rather than by re-implementing the architectures:

- onnx2torch imports torchvision at import time, for its NonMaxSuppression and RoiAlign
  converters only. torchvision's PyPI wheel for torch 2.13 is a CUDA build that does not load
  against the CPU torch this project installs; when torchvision cannot be imported, a placeholder
  stands in for it (the PP-OCR graphs contain neither operator, and a graph that does fails with
  a clear error when that converter runs).
- Paddle's exporter writes a few stride-1 convolutions and max-pools (kernel 2) with
  `auto_pad=SAME_UPPER`, which onnx2torch does not accept; they are rewritten with the explicit
  padding ONNX defines for them (the extra row and column after), which does not depend on the
  input size at stride 1.

`check_against_onnx` is the equality test run before any training: the converted module must
give onnxruntime's output on real inputs.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import numpy as np


class ConversionError(ValueError):
    """The ONNX graph cannot be turned into a torch module (or disagrees with onnxruntime)."""


def _torchvision_placeholder() -> None:
    try:
        importlib.import_module("torchvision.ops")
        return
    except Exception:  # noqa: BLE001 - missing, or the CUDA wheel failing against a CPU torch
        pass

    def unavailable(*_args, **_kwargs):
        raise ConversionError("this graph needs torchvision (NMS / RoIAlign), which is not installed")

    tv = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    boxes = types.ModuleType("torchvision.ops.boxes")
    ops.roi_align = unavailable
    ops.nms = ops.batched_nms = boxes.nms = boxes.batched_nms = unavailable
    ops.boxes = boxes
    tv.ops = ops
    for name, module in (("torchvision", tv), ("torchvision.ops", ops), ("torchvision.ops.boxes", boxes)):
        sys.modules.setdefault(name, module)


def _explicit_same_padding(model) -> int:
    """Rewrite stride-1 `auto_pad=SAME_*` of Conv / pooling nodes as explicit pads; returns the count."""
    from onnx import helper

    rewritten = 0
    for node in model.graph.node:
        attrs = {a.name: a for a in node.attribute}
        auto = attrs.get("auto_pad")
        if auto is None or auto.s not in (b"SAME_UPPER", b"SAME_LOWER"):
            continue
        kernel = list(attrs["kernel_shape"].ints) if "kernel_shape" in attrs else None
        strides = list(attrs["strides"].ints) if "strides" in attrs else [1] * len(kernel or [])
        if kernel is None or any(s != 1 for s in strides):
            raise ConversionError(
                f"{node.op_type} {node.name!r}: auto_pad {auto.s.decode()} with strides {strides} "
                "depends on the input size; not supported")
        dilations = list(attrs["dilations"].ints) if "dilations" in attrs else [1] * len(kernel)
        total = [(k - 1) * d for k, d in zip(kernel, dilations)]
        small = [t // 2 for t in total]
        large = [t - s for t, s in zip(total, small)]
        begin, end = (small, large) if auto.s == b"SAME_UPPER" else (large, small)
        node.attribute.remove(auto)
        node.attribute.append(helper.make_attribute("pads", begin + end))
        rewritten += 1
    return rewritten


def to_torch(onnx_path: str | Path):
    """The ONNX file as a `torch.fx.GraphModule` whose parameters are trainable."""
    import onnx

    _torchvision_placeholder()
    from onnx2torch import convert

    model = onnx.load(str(onnx_path))
    _explicit_same_padding(model)
    try:
        module = convert(model)
    except NotImplementedError as exc:
        raise ConversionError(f"{Path(onnx_path).name}: {exc}") from exc
    for p in module.parameters():
        p.requires_grad_(True)
    return module


def check_against_onnx(module, onnx_path: str | Path, inputs: list[np.ndarray], *, atol: float = 1e-3) -> float:
    """Largest absolute difference between the module (eval mode) and onnxruntime over `inputs`.

    Raises ConversionError when it exceeds `atol`."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    was_training = module.training
    module.eval()
    worst = 0.0
    try:
        with torch.no_grad():
            for x in inputs:
                ours = module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
                ours = ours[0] if isinstance(ours, (tuple, list)) else ours
                theirs = session.run(None, {name: x.astype(np.float32)})[0]
                if ours.shape != theirs.shape:
                    raise ConversionError(f"output shape {tuple(ours.shape)} != onnxruntime's {theirs.shape}")
                worst = max(worst, float(np.abs(ours.numpy() - theirs).max()))
    finally:
        module.train(was_training)
    if worst > atol:
        raise ConversionError(f"converted module differs from onnxruntime by {worst:.3g} (> {atol:g})")
    return worst


def initializers_as_parameters(module) -> int:
    """Make the graph's float weight tensors trainable; returns how many became parameters.

    onnx2torch keeps initializers that feed plain tensor ops (MatMul, Add, Mul: the weights of
    SVTR's attention and MLP blocks, LayerNorm scales, the CTC head's linear layer) as buffers,
    so only the Conv weights would train. Tensors of one element stay buffers: they are the
    constants of decomposed ops (LayerNorm's epsilon, GELU's 0.5, a Pow's exponent)."""
    import torch

    holder = getattr(module, "initializers", None)
    if holder is None:
        return 0
    moved = 0
    for name, tensor in list(holder.named_buffers(recurse=False)):
        if tensor.is_floating_point() and tensor.numel() > 1:
            delattr(holder, name)
            holder.register_parameter(name, torch.nn.Parameter(tensor.detach().clone()))
            moved += 1
    return moved
