"""ONNX export of the MMOCR recognisers: the graph outputs the decoder's per-step probabilities.

Inputs: ``image`` (N, C, H, W) float32, already normalised (mmocr_recognizer.preprocess), and,
for the models that mask the padded width (SAR, RobustScanner, NRTR), ``valid_ratio`` (N,)
float64 (float64 because MMOCR takes ``ceil(width * ratio)`` on python floats). Output:
``probs`` (N, T, num_classes), rows summing to 1. The batch axis is dynamic; the width is dynamic
for rescale-to-height models without padding (CRNN), and so is T there. Autoregressive decoders
are traced: their loop over the maximum length is unrolled (MMOCR decodes every step and cuts at
the end token afterwards, so no step depends on a data-dependent break).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from torch import nn

from handlers.api.spec import UnknownName

from handlers.families.mmocr_rec import available, build_model, config_of
from handlers.families.mmocr_rec._base import CTCRecognizerBase

#: Model classes whose forward reads the valid ratio (the others ignore it or never pad).
VALID_RATIO_MODELS = frozenset({"SARNet", "RobustScanner", "NRTR"})
#: Example batch for tracing: not 1, so that no batch-1 shortcut is frozen into the graph.
TRACE_BATCH = 2
#: Floor of the denominator of the relative error (probabilities near 0 carry no information).
REL_FLOOR = 1e-3


class ProbsGraph(nn.Module):
    """The traced function: (image[, valid_ratio]) -> per-step probabilities."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.ctc = isinstance(model, CTCRecognizerBase)
        self.uses_valid_ratio = type(model).__name__ in VALID_RATIO_MODELS

    def forward(self, image: torch.Tensor, valid_ratio: torch.Tensor | None = None):
        if self.ctc:
            return self.model(image)
        return self.model(image, valid_ratio if self.uses_valid_ratio else None)


def load_model(arch: str, checkpoint: Path | None) -> nn.Module:
    """The config's network in eval mode with the checkpoint loaded strictly; without a checkpoint
    the constructor's initialisation under seed 0 (only for trying the pipeline)."""
    if checkpoint is None:
        torch.manual_seed(0)
        return build_model(arch).eval()
    from handlers.runtime import load_checkpoint_runner

    return load_checkpoint_runner(build_model(arch), Path(checkpoint)).module


def dynamic_width(arch: str) -> bool:
    """Rescale-to-height without padding: any width the divisor allows."""
    spec = config_of(arch)["input"]
    return "width" not in spec and "pad_width" not in spec


def example_inputs(arch: str, graph: ProbsGraph, batch: int = TRACE_BATCH, extra: int = 0) -> tuple:
    """Random tensors of the test pipeline's shape (a wide word, ``extra`` times the width divisor
    wider) for tracing."""
    spec = config_of(arch)["input"]
    width = spec.get("width") or spec.get("pad_width") or 4 * spec["height"]
    width += extra * spec.get("width_divisor", 1)
    image = torch.randn(batch, spec["channels"], spec["height"], width,
                        generator=torch.Generator().manual_seed(1))
    if graph.uses_valid_ratio:
        return image, torch.linspace(1.0, 0.6, batch, dtype=torch.float64)
    return (image,)


def export_onnx(arch: str, checkpoint: Path | None, out: Path, opset: int = 17) -> dict:
    """Export one recogniser config (with its checkpoint) to ``out``; returns what the graph is.

    Returns: arch, path, opset, inputs (names), output, dynamic_axes, num_classes, steps (T of
    the example; per width for dynamic-width models).
    """
    if arch not in available():
        raise UnknownName("MMOCR recogniser config", arch, available())
    return export_model(load_model(arch, checkpoint), arch, out, opset)


def export_model(model: nn.Module, arch: str, out: Path, opset: int = 17) -> dict:
    """Export a loaded network of config ``arch`` (its pipeline numbers); see export_onnx."""
    graph = ProbsGraph(model).eval()
    inputs = example_inputs(arch, graph)
    names = ["image", "valid_ratio"][:len(inputs)]
    axes: dict[str, dict[int, str]] = {"image": {0: "batch"}, "probs": {0: "batch"}}
    if dynamic_width(arch):
        axes["image"][3] = "width"
        axes["probs"].update(_width_axes(graph, arch, inputs))
    if graph.uses_valid_ratio:
        axes["valid_ratio"] = {0: "batch"}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        probs = graph(*inputs)
        torch.onnx.register_custom_op_symbolic("aten::unsafe_chunk", _split_equal, opset)
        buffer = io.BytesIO()
        try:
            torch.onnx.export(graph, inputs, buffer, dynamo=False, opset_version=opset,
                              input_names=names, output_names=["probs"], dynamic_axes=axes)
        finally:
            torch.onnx.unregister_custom_op_symbolic("aten::unsafe_chunk", opset)
    _save_with_metadata(buffer.getvalue(), out, arch, graph)
    return {"arch": arch, "path": str(out), "opset": opset, "inputs": names, "output": "probs",
            "dynamic_axes": axes, "num_classes": int(probs.shape[-1]),
            "steps": int(probs.shape[1])}


def _width_axes(graph: ProbsGraph, arch: str, inputs: tuple) -> dict[int, str]:
    """Output axes that follow the input width (CTC steps; SegOCR's map width), found by running
    a wider example."""
    with torch.no_grad():
        narrow, wide = graph(*inputs).shape, graph(*example_inputs(arch, graph, extra=4)).shape
    return {axis: "steps" if axis == 1 else f"width{axis}"
            for axis, (a, b) in enumerate(zip(narrow, wide)) if a != b}


def _split_equal(g, tensor, chunks, dim, _outputs=None):
    """aten::unsafe_chunk as an ONNX Split whose equal sizes come from the runtime shape: LSTM
    and GRU cells (SAR's sequential decoder) chunk their gates, and the stock symbolic refuses
    when the traced size of that axis is not static."""
    from torch.onnx import symbolic_helper

    chunks = symbolic_helper._get_const(chunks, "i", "chunks")
    dim = symbolic_helper._get_const(dim, "i", "dim")
    size = g.op("Gather", g.op("Shape", tensor), g.op("Constant", value_t=torch.tensor([dim])), axis_i=0)
    part = g.op("Div", size, g.op("Constant", value_t=torch.tensor([chunks])))
    sizes = g.op("Expand", part, g.op("Constant", value_t=torch.tensor([chunks])))
    return g.op("Split", tensor, sizes, axis_i=dim, outputs=chunks)


def _save_with_metadata(exported: bytes, path: Path, arch: str, graph: ProbsGraph) -> None:
    """Write the exported graph with the config name and input convention as custom metadata."""
    import onnx

    model = onnx.load_model_from_string(exported)
    meta = {"arch": arch, "valid_ratio_input": str(int(graph.uses_valid_ratio))}
    if hasattr(graph.model, "dictionary"):
        meta["dictionary"] = "\n".join(graph.model.dictionary.dict)
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def verify_onnx(arch: str, checkpoint: Path | None, onnx_path: Path,
                images: list[np.ndarray]) -> dict:
    """Run BGR word crops through torch and the ONNX file; compare probabilities and texts.

    Crops whose tensors share a shape run as one batch, as the recogniser serves them. Returns
    max_abs_error and max_rel_error (|onnx - torch| / max(|torch|, REL_FLOOR)) over every
    per-step probability, texts_match, and both lists of texts.
    """
    return verify_model(load_model(arch, checkpoint), arch, onnx_path, images)


def verify_model(model: nn.Module, arch: str, onnx_path: Path, images: list[np.ndarray]) -> dict:
    """verify_onnx for a loaded network of config ``arch``."""
    from handlers.predictors.mmocr_rec import OrtProbs, postprocessor, preprocess

    if not images:
        raise ValueError("verify_onnx needs at least one image")
    session, decode = OrtProbs(Path(onnx_path)), postprocessor(arch)
    prepared = [preprocess(image, config_of(arch)["input"]) for image in images]
    abs_err = rel_err = 0.0
    torch_texts, onnx_texts = [""] * len(images), [""] * len(images)
    for indexes in _same_shape_groups([t.shape for t, _ in prepared]):
        batch = np.stack([prepared[i][0] for i in indexes])
        ratios = [prepared[i][1] for i in indexes]
        with torch.no_grad():
            ref = ProbsGraph(model)(torch.from_numpy(batch),
                                    torch.tensor(ratios, dtype=torch.float64)).numpy()
        got = session(batch, ratios)
        diff = np.abs(got.astype(np.float64) - ref)
        abs_err = max(abs_err, float(diff.max()))
        rel_err = max(rel_err, float((diff / np.maximum(np.abs(ref), REL_FLOOR)).max()))
        for i, ref_read, got_read in zip(indexes, decode(ref, ratios), decode(got, ratios)):
            torch_texts[i], onnx_texts[i] = ref_read.text, got_read.text
    return {"arch": arch, "crops": len(images), "max_abs_error": abs_err,
            "max_rel_error": rel_err, "texts_match": torch_texts == onnx_texts,
            "torch_texts": torch_texts, "onnx_texts": onnx_texts}


def _same_shape_groups(shapes: list[tuple]) -> list[list[int]]:
    groups: dict[tuple, list[int]] = {}
    for index, shape in enumerate(shapes):
        groups.setdefault(tuple(shape), []).append(index)
    return list(groups.values())

