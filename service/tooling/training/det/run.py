"""The steps of `ocrserve train det` around the loop: build and check the model, export and verify."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from handlers.predictors.db import DBConfig, preprocess
from service.tooling.evaluation.det_formats import DetImage
from service.tooling.training.det.data import read_image
from service.tooling.training.det.export import export_onnx, initializer_names
from service.tooling.training.det.model import DBTrainNet
from service.tooling.training.onnx_torch import check_against_onnx, to_torch


def served_inputs(samples: list[DetImage], inputs: DBConfig, n: int = 2, limit: int | None = None) -> list[np.ndarray]:
    """The first n images as the served detector sees them, (1, 3, H, W) float32: its resize rule,
    or, with `limit`, scaled down to a long side of `limit` (a cheaper check)."""
    cfg = dataclasses.replace(inputs, limit_side_len=limit, limit_type="max") if limit else inputs
    return [preprocess(read_image(sample.image), cfg)[0] for sample in samples[:n]]


def build(onnx_path: Path, check: list[np.ndarray]) -> tuple[DBTrainNet, dict[str, str], float]:
    """The trainable detector, its state-dict -> ONNX initializer map, and its largest difference
    from onnxruntime on `check` (ConversionError when the conversion is not equal)."""
    graph = to_torch(onnx_path)
    mapping = initializer_names(graph, onnx_path)
    model = DBTrainNet(graph)
    worst = check_against_onnx(model, onnx_path, check)
    return model, mapping, worst


def export(model: DBTrainNet, mapping: dict[str, str], source: Path, target: Path, check: list[np.ndarray],
           metadata: dict) -> tuple[int, float]:
    """Write the ONNX and compare it with the torch module on `check`: (tensors changed, largest difference)."""
    model = model.to("cpu")
    changed = export_onnx(model.net, source, target, mapping, metadata)
    worst = check_against_onnx(model, target, check)
    return changed, worst


def from_checkpoint(onnx_path: Path, checkpoint: Path) -> tuple[DBTrainNet, dict[str, str], dict]:
    """Rebuild the module of a training checkpoint (weights loaded) with its ONNX map."""
    graph = to_torch(onnx_path)
    mapping = initializer_names(graph, onnx_path)
    model = DBTrainNet(graph)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model.load_weights(state)
    return model, mapping, state


class ZooStart:
    """`train det` from a zoo PP-OCR detector (ONNX): what the command does around the shared
    loop; native.NativeStart is the same for a user's MMOCR checkpoint."""

    def __init__(self, base, source: Path):
        self.base, self.source = base, source  # the zoo entry and its ONNX file
        self.inputs = DBConfig.from_dict(base.config)
        self.meta = {"base": base.name, "base_sha256": base.weights.sha256}
        self.model: DBTrainNet | None = None
        self.mapping: dict[str, str] = {}

    def check(self, samples: list[DetImage], limit: int | None) -> list[np.ndarray]:
        return served_inputs(samples, self.inputs, n=2, limit=limit)

    def build(self, check: list[np.ndarray]) -> str:
        self.model, self.mapping, worst = build(self.source, check)
        return (f"{self.base.name} ({self.source.name}) as a torch module, equal to onnxruntime on "
                f"{len(check)} real images (max |diff| {worst:.2g})")

    def restore(self, checkpoint: Path) -> dict:
        self.model, self.mapping, state = from_checkpoint(self.source, checkpoint)
        return state

    def blend(self, share: float) -> str:
        """The network's weights become `share` x the trained ones + (1 - share) x the base model's
        (WiSE-FT, Wortsman et al. 2022): the fine-tuned gain largely stays while the model keeps more
        of its other domains. Only tensors that training changed move."""
        base = to_torch(self.source).state_dict()
        moved = 0
        with torch.no_grad():
            for key, value in self.model.net.state_dict().items():  # views of the parameters
                if not value.dtype.is_floating_point:
                    continue
                start = base[key].to(value)
                if not torch.equal(value, start):
                    value.copy_(share * value + (1 - share) * start)
                    moved += 1
        return f"blended {moved} trained tensors: {share:g} x trained + {1 - share:g} x {self.base.name}"

    def export(self, out: Path, check: list[np.ndarray], meta: dict, name: str, note: str) -> str:
        from service.tooling.training.det.zoo_entry import trained_entry, write_entry

        target = out / "det.onnx"
        changed, worst = export(self.model, self.mapping, self.source, target, check, meta)
        entry = write_entry(out, trained_entry(self.base, name, target, f"{self.base.name} {note}"))
        return (f"wrote {target} ({changed} tensors changed; onnxruntime equals torch on {len(check)} "
                f"real images, max |diff| {worst:.2g}), sha256 {entry.weights.sha256[:12]}; "
                f"zoo entry {out / 'zoo_entry.yaml'}")
