"""Trained detector -> ONNX: the trained tensors written back into the zoo's original ONNX graph.

onnx2torch copies every ONNX initializer into one parameter or buffer of the converted module;
`initializer_names` recovers that correspondence from the untrained module (each state-dict tensor
equals exactly one initializer of the same shape), and `export_onnx` replaces those initializers by
the trained values. The graph, its dynamic batch / height / width and its metadata are the
original's, so the result is served by the `db` family with the same config keys as the source
model; the threshold head is not part of it. The written file is then compared with the torch
module (eval mode) on real images by onnx_torch.check_against_onnx (train.py).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from service.tooling.training.onnx_torch import ConversionError


def initializer_names(graph_module: torch.nn.Module, onnx_path: str | Path) -> dict[str, str]:
    """State-dict key of the converted graph -> name of the ONNX initializer it was made from."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    by_shape: dict[tuple, list[tuple[str, np.ndarray]]] = {}
    for init in model.graph.initializer:
        array = numpy_helper.to_array(init)
        by_shape.setdefault(tuple(array.shape), []).append((init.name, array))
    mapping = {}
    for key, tensor in graph_module.state_dict().items():
        value = tensor.detach().cpu().numpy()
        found = [name for name, array in by_shape.get(tuple(value.shape), []) if np.array_equal(array, value)]
        if len(found) == 1:
            mapping[key] = found[0]
        elif len(found) > 1 and tensor.dtype.is_floating_point and tensor.numel() > 1:
            raise ConversionError(f"{key}: equal to {len(found)} ONNX initializers, cannot map it back")
    return mapping


def export_onnx(graph_module: torch.nn.Module, source: str | Path, target: str | Path,
                mapping: dict[str, str], metadata: dict | None = None) -> int:
    """Write `source` with the trained tensors of `graph_module` to `target`; returns how many changed."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    state = {mapping[k]: v.detach().cpu().numpy() for k, v in graph_module.state_dict().items() if k in mapping}
    changed = 0
    for i, init in enumerate(model.graph.initializer):
        if init.name not in state:
            continue
        old = numpy_helper.to_array(init)
        new = state[init.name].astype(old.dtype, copy=False)
        if new.shape != old.shape:
            raise ConversionError(f"{init.name}: trained shape {new.shape} != ONNX {old.shape}")
        if not np.array_equal(new, old):
            changed += 1
        model.graph.initializer[i].CopyFrom(numpy_helper.from_array(new, init.name))
    if metadata:
        entry = model.metadata_props.add()
        entry.key, entry.value = "ocrserve_training", json.dumps(metadata, sort_keys=True)
    onnx.checker.check_model(model)
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    return changed

