"""The zoo's CTC recogniser (a PP-OCR ONNX graph) as a trainable torch module, and back to ONNX.

The served predictor is the source of truth for everything around the network: `load_zoo_recognizer`
builds the zoo model exactly as the gateway's in-process backend does, so training reads the same
`CTCConfig` (height 48, mean/std, widths) and the same class list (the ONNX `character` metadata
plus the space class) as `handlers/predictors/ctc.py`. The graph ends in a softmax over the
classes; CTC needs log-probabilities, so the softmax is cut off (`logits_of`) and training takes
`log_softmax` of the logits (the log of a softmax underflows to -inf for the rare classes of an
18,710-class output). The export puts the softmax back, so the served output is what the zoo
model's was: probabilities.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from handlers.predictors.ctc import CTCConfig, CTCRecognizer
from service.tooling.training.onnx_torch import (ConversionError, check_against_onnx,
                                                 initializers_as_parameters, to_torch)

OPSET = 17


@dataclass
class RecModel:
    """A trainable recogniser: logits network, the served config and classes, the source file."""

    net: torch.nn.Module  # (N, 3, 48, W) -> (N, T, C) logits, class 0 the CTC blank
    cfg: CTCConfig
    classes: list[str]  # class i + 1 -> classes[i]
    source: Path  # the ONNX file it was converted from (metadata is copied from it on export)

    def probs(self, batch: np.ndarray) -> np.ndarray:
        """The served output (softmax over classes) of one (N, 3, H, W) batch: eval mode (batch
        norm on its running statistics), no gradients; the training mode is restored."""
        was = self.net.training
        self.net.eval()
        try:
            with torch.no_grad():
                x = torch.from_numpy(batch).to(next(self.net.parameters()).device)
                return torch.softmax(self.net(x), dim=-1).cpu().numpy()
        finally:
            self.net.train(was)

    def predictor(self) -> CTCRecognizer:
        """This network behind the served CTC pre/post-processing (batching, decoding)."""
        return CTCRecognizer(_NumpyRunner(self), self.cfg)

    # what the training loop (train.py) asks of a recogniser; native.NativeRecModel answers it too
    blank = 0

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """CTC targets and their lengths (character i of `classes` is class i + 1)."""
        from service.tooling.training.rec.train import encode

        return encode(texts, self.classes)

    def batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The served input of BGR crops: one batch, right-padded to a common width."""
        from handlers.predictors.ctc import batch_tensor, resized_width

        return batch_tensor(images, [resized_width(image, self.cfg) for image in images], self.cfg)

    def freeze_backbone(self) -> int:
        return freeze_backbone(self.net)

    def train_mode(self) -> None:
        train_mode(self.net)


class _NumpyRunner:
    """The Runner interface CTCRecognizer calls, over a RecModel."""

    def __init__(self, model: RecModel):
        self.model = model

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.model.probs(batch)


def load_zoo_recognizer(name: str, zoo=None) -> tuple[CTCRecognizer, Path]:
    """The served predictor of zoo model `name` (family ctc, onnxruntime) and its weight file."""
    from service.gateway.zoo import load_zoo
    from service.tooling.local_backend import LocalBackend
    from service.tooling.packaging.weights import weight_path

    zoo = zoo or load_zoo()
    entry = zoo.get(name)
    if entry.family != "ctc" or entry.runtime != "onnxruntime":
        raise ValueError(f"{name}: fine-tuning needs a ctc recogniser on onnxruntime, "
                         f"not {entry.family} on {entry.runtime}")
    return LocalBackend(zoo).handler(name).model, weight_path(entry)


def logits_of(module: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """The graph without its final softmax (raises ConversionError when it does not end in one)."""
    output = next(n for n in module.graph.nodes if n.op == "output")
    last = output.args[0]
    target = module.get_submodule(last.target) if last.op == "call_module" else None
    if target is None or "Softmax" not in type(target).__name__ or getattr(target, "axis", -1) not in (-1, 2):
        raise ConversionError(f"the graph ends in {last.op} {last.target!r}, not a softmax over classes")
    output.args = (last.args[0],)
    module.graph.erase_node(last)
    module.graph.lint()
    module.recompile()
    return module


def convert(recognizer: CTCRecognizer, path: Path, check_batches: Sequence[np.ndarray]) -> RecModel:
    """The ONNX file as a RecModel, after checking the converted graph equals onnxruntime on
    `check_batches` (real crops through the served preprocessing)."""
    module = to_torch(path)
    check_against_onnx(module, path, list(check_batches))
    initializers_as_parameters(module)
    net = logits_of(module)
    classes = recognizer.classes
    model = RecModel(net, recognizer.cfg, classes, Path(path))
    classes_out = model.probs(np.zeros((1, 3, model.cfg.height, model.cfg.min_width), np.float32)).shape[-1]
    if classes_out != len(classes) + 1:
        raise ConversionError(f"{path.name}: {classes_out} output classes for {len(classes)} characters + blank")
    return model


def freeze_backbone(net: torch.fx.GraphModule, first_op: str = "OnnxMatMul") -> int:
    """Freeze every weight used before the graph's first `first_op` (for PP-OCR: the convolutional
    backbone, before the SVTR neck's first attention / MLP matmul); returns the weights left
    trainable. The neck and the CTC head adapt; the features stay the pretrained ones, which
    costs a third of the CPU time per step and guards the old domain."""
    frozen: set[int] = set()
    for node in net.graph.nodes:
        if node.op == "call_module":
            module = net.get_submodule(node.target)
            if type(module).__name__ == first_op:
                break
            frozen.update(id(p) for p in module.parameters())
        elif node.op == "get_attr":
            owner, _, name = node.target.rpartition(".")
            value = getattr(net.get_submodule(owner) if owner else net, name)
            if isinstance(value, torch.nn.Parameter):
                frozen.add(id(value))
    else:
        raise ConversionError(f"the graph has no {first_op}: cannot tell the backbone from the head")
    trainable = 0
    for p in net.parameters():
        p.requires_grad_(id(p) not in frozen)
        trainable += p.numel() * (id(p) not in frozen)
    return trainable


def train_mode(net: torch.nn.Module) -> None:
    """Training mode with batch norm frozen: its running statistics are the pretrained model's,
    and batches of a few crops would only make them noisier."""
    net.train()
    for module in net.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()


#: float tensors of at least this many elements are stored as float16 in the exported file
FP16_MIN_ELEMENTS = 16


def round_to_fp16(net: torch.nn.Module) -> None:
    """Round the float weights the export stores as float16 to their float16 values, so that the
    torch module computes what the exported file computes (the export keeps every tensor as it is:
    no batch-norm folding)."""
    with torch.no_grad():
        for tensor in list(net.parameters()) + list(net.buffers()):
            if tensor.is_floating_point() and tensor.numel() >= FP16_MIN_ELEMENTS:
                tensor.copy_(tensor.half().float())


class _WithSoftmax(torch.nn.Module):
    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=-1)


def export_onnx(model: RecModel, out: Path) -> Path:
    """Write the network (softmax put back) as one ONNX file with the source's metadata (its
    `character` list) and float16 weight storage cast back to float32 in the graph."""
    import onnx

    was = model.net.training
    wrapper = _WithSoftmax(model.net.cpu()).eval()
    sample = torch.zeros(1, 3, model.cfg.height, model.cfg.min_width)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(wrapper, (sample,), buffer, input_names=["x"], output_names=["probs"],
                          dynamic_axes={"x": {0: "batch", 3: "width"}, "probs": {0: "batch", 1: "steps"}},
                          opset_version=OPSET, dynamo=False, do_constant_folding=False)
    model.net.train(was)
    proto = onnx.load_model_from_string(buffer.getvalue())
    for prop in onnx.load(str(model.source), load_external_data=False).metadata_props:
        entry = proto.metadata_props.add()
        entry.key, entry.value = prop.key, prop.value
    store_float16(proto)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, str(out))
    return out


def store_float16(proto, min_elements: int = FP16_MIN_ELEMENTS) -> int:
    """Store float32 initializers of at least `min_elements` as float16, each followed by a Cast
    back to float32 (onnxruntime folds the casts at load: the graph still computes in float32).
    Halves the file; returns how many were converted."""
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT:
            continue
        array = numpy_helper.to_array(init)
        if array.size < min_elements:
            continue
        name = init.name
        graph.initializer.remove(init)
        graph.initializer.append(numpy_helper.from_array(array.astype(np.float16), f"{name}__fp16"))
        casts.append(helper.make_node("Cast", [f"{name}__fp16"], [name], to=TensorProto.FLOAT,
                                      name=f"{name}__cast"))
    for index, node in enumerate(casts):
        graph.node.insert(index, node)
    return len(casts)


def verify_export(model: RecModel, path: Path, batches: Sequence[np.ndarray], atol: float = 1e-3) -> float:
    """Largest difference between the exported file (onnxruntime) and the torch module on
    `batches`; raises ConversionError above `atol`."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for batch in batches:
        theirs = session.run(None, {"x": batch.astype(np.float32)})[0]
        ours = model.probs(batch)
        if theirs.shape != ours.shape:
            raise ConversionError(f"exported output {theirs.shape} != torch's {ours.shape}")
        worst = max(worst, float(np.abs(theirs - ours).max()))
    if worst > atol:
        raise ConversionError(f"exported model differs from torch by {worst:.3g} (> {atol:g})")
    return worst
