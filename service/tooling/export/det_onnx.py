"""Export an MMOCR text detector to ONNX and check the export against torch on real images.

The ONNX graph has one input ``input`` (N, 3, H, W) float32 with dynamic N, H and W (the
data preprocessor's output: normalised, padded to a multiple of 32) and the network's
outputs flattened the way the runners flatten them: a tensor -> [t], a tuple/list -> in
order, a dict -> insertion order (FCENet: cls_res_0, reg_res_0, ..., reg_res_2).

The exporter is torch's TorchScript-based one (``dynamo=False``): it traces the eval-mode
network once, so shape arithmetic (FPN upsampling sizes, DCNv2 sampling grids) stays
symbolic, and it needs only the ``onnx`` package (the dynamo exporter also needs
``onnxscript``). Checkpoints: MMOCR 1.x or 0.x, loaded strictly like the torch runtime.
"""
from __future__ import annotations

import io
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from handlers.runtime import flatten_outputs

INPUT_NAME = "input"
#: protobuf's hard limit for a single-file model; larger weights go to external data.
_SINGLE_FILE_LIMIT = 2 * 1024**3


class FlatOutputs(nn.Module):
    """Wraps a detector so that its forward returns a flat tuple of tensors."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(flatten_outputs(self.model(inputs)))


def named_outputs(out: Any, keys: tuple[str, ...] = (), levels: tuple[int, ...] = ()) -> list[tuple[str, torch.Tensor]]:
    """Flatten a head output into (name, tensor) pairs in `flatten_outputs` (runner) order.

    Names join the dict keys and append the list positions: a lone tensor is ``output``,
    FCENet's level-1 regression map is ``reg_res_1``.
    """
    if isinstance(out, torch.Tensor):
        name = "_".join(keys) or "output"
        return [(name + "".join(f"_{i}" for i in levels), out)]
    if isinstance(out, dict):
        return [p for k, v in out.items() for p in named_outputs(v, keys + (str(k),), levels)]
    if isinstance(out, (list, tuple)):
        return [p for i, v in enumerate(out) for p in named_outputs(v, keys, levels + (i,))]
    raise TypeError(f"cannot flatten a detector output of type {type(out).__name__}")


def load_detector(arch: str, checkpoint: Path | None) -> nn.Module:
    """The eval-mode network of `arch` with the checkpoint's weights, loaded like the torch runtime.

    Without a checkpoint the weights are random but seeded, so that the export and the
    verification of a test build the same network.
    """
    from handlers.api.spec import ModelSpec
    from handlers.families.mmocr import build_model
    from handlers.predictors.mmocr_det import load_torch_runner

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_model(arch)  # ValueError naming the supported configs
    if checkpoint is None:
        return model.eval()
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise ValueError(f"checkpoint {checkpoint} does not exist")
    spec = ModelSpec(arch, "det", "mmocr_det", "torch", checkpoint, {"arch": arch})
    return load_torch_runner(spec, threads=torch.get_num_threads()).module.eval()


def export_onnx(arch: str, checkpoint: Path | None, out: Path, opset: int = 17) -> dict:
    """Write `arch` (weights from `checkpoint`; None = random, for tests) to `out` as ONNX.

    Returns what was written: path, opset, input/output names, parameter count, bytes,
    seconds taken.
    """
    model = FlatOutputs(load_detector(arch, checkpoint)).eval()
    sample = torch.zeros(1, 3, 64, 64)
    with torch.inference_mode():
        names = [name for name, _ in named_outputs(model.model(sample))]
    params = sum(p.numel() for p in model.parameters())
    if params * 4 >= _SINGLE_FILE_LIMIT:  # every MMOCR detector is < 200 MB
        raise ValueError(f"{arch}: {params} float32 parameters exceed a single 2 GB ONNX file")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    _write(model, sample, out, names, {"arch": arch, "producer": "ocrserve export-onnx",
                                       "outputs": ",".join(names)}, opset)
    return {"arch": arch, "path": str(out), "opset": opset, "inputs": [INPUT_NAME],
            "outputs": names, "parameters": params, "bytes": out.stat().st_size,
            "seconds": round(time.perf_counter() - start, 2)}


def _dynamic_axes(names: Sequence[str]) -> dict[str, dict[int, str]]:
    axes = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"}}
    axes.update({name: {0: "batch"} for name in names})  # H/W of outputs follow from the input
    return axes


def _write(model: nn.Module, sample: torch.Tensor, out: Path, names: list[str],
           metadata: dict[str, str], opset: int) -> None:
    """Trace to memory, record `metadata` (config name etc.) in the model, write one file."""
    import onnx

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript exporter announces its deprecation and flags Python-side shape checks
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (sample,), buffer, input_names=[INPUT_NAME], output_names=names,
                          dynamic_axes=_dynamic_axes(names), opset_version=opset, dynamo=False)
    proto = onnx.load_model_from_string(buffer.getvalue())
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save_model(proto, str(out), save_as_external_data=False)  # one self-contained file


def verify_onnx(arch: str, checkpoint: Path | None, onnx_path: Path,
                images: list[np.ndarray]) -> dict:
    """Run BGR images through the config's test preprocessing, then torch and onnxruntime.

    Returns per output name its max_abs_error, max_rel_error (max abs error divided by
    the output's max |torch value|) and that max_abs_torch, plus the overall maxima (the
    same top-level keys as the recogniser exporter) and the input shapes checked.
    """
    from handlers.predictors.mmocr_det import MMOCRDetConfig, preprocess
    from handlers.runtime import OnnxRunner

    if not images:
        raise ValueError("verify_onnx needs at least one image")
    cfg = MMOCRDetConfig.from_dict({"arch": arch})
    model = FlatOutputs(load_detector(arch, checkpoint)).eval()
    session = OnnxRunner(Path(onnx_path), threads=torch.get_num_threads()).session
    names = [o.name for o in session.get_outputs()]
    stats = {name: {"max_abs_error": 0.0, "max_abs_torch": 0.0} for name in names}
    shapes = []
    for image in images:
        tensor, _ = preprocess(image, cfg)
        shapes.append(list(tensor.shape))
        with torch.inference_mode():
            expected = [t.numpy() for t in model(torch.from_numpy(tensor))]
        got = session.run(None, {INPUT_NAME: tensor})
        if len(got) != len(expected):
            raise ValueError(f"{onnx_path} has {len(got)} outputs, {arch} gives {len(expected)}")
        for name, ref, out in zip(names, expected, got):
            _accumulate(stats[name], name, ref, out)
    for entry in stats.values():
        entry["max_rel_error"] = entry["max_abs_error"] / max(entry["max_abs_torch"], 1e-12)
    return {"arch": arch, "onnx": str(onnx_path), "input_shapes": shapes, "outputs": stats,
            "max_abs_error": max(s["max_abs_error"] for s in stats.values()),
            "max_rel_error": max(s["max_rel_error"] for s in stats.values())}


def _accumulate(entry: dict, name: str, ref: np.ndarray, out: np.ndarray) -> None:
    if ref.shape != out.shape:
        raise ValueError(f"output {name}: onnxruntime shape {out.shape} != torch shape {ref.shape}")
    entry["max_abs_error"] = max(entry["max_abs_error"], float(np.abs(ref - out).max()))
    entry["max_abs_torch"] = max(entry["max_abs_torch"], float(np.abs(ref).max()))
