"""MMOCR text recognisers served from a user's checkpoint (torch) or its ONNX export.

The networks come from handlers/families/mmocr_rec (native PyTorch, MMOCR 1.x key names); this
module adds MMOCR's test pipeline around them: fixed resize or rescale-to-height (width rounded
down to the divisor, clamped), optional zero padding to a fixed width with its valid ratio,
grayscale when the config reads grayscale, and mean/std on the BGR channels (MMOCR's recognition
preprocessor does not convert to RGB; 0.x configs whose Normalize has to_rgb=True say
"color": "rgb"). Crops whose tensors have the same shape run as one batch.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from handlers.api.results import Recognition
from handlers.predictors.ctc import with_positions
from handlers.ops.ctc_decode import DecodedText
from handlers.runtime import Device, OnnxRunner, TorchRunner, load_checkpoint_runner


@dataclass(frozen=True)
class MMOCRRecConfig:
    """The MMOCR config name and its test-pipeline numbers (from the family's DEFAULT_CFGS)."""

    arch: str
    input: dict[str, Any]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "MMOCRRecConfig":
        from handlers.families.mmocr_rec import config_of

        return cls(raw.get("arch"), dict(config_of(raw.get("arch"))["input"]))


def to_gray(image: np.ndarray) -> np.ndarray:
    """Grayscale as MMOCR gets it when it reads a colour PNG as grayscale (libpng's rgb_to_gray:
    0.299/0.587/0.114 in 15-bit fixed point, truncated); cv2.cvtColor rounds, 1 level off on
    half the pixels."""
    b, g, r = (image[:, :, i].astype(np.uint32) for i in range(3))
    return ((9798 * r + 19235 * g + 3735 * b) >> 15).astype(np.uint8)


def target_width(height: int, width: int, spec: dict[str, Any]) -> int:
    """MMOCR's RescaleToHeight width (0.x ResizeOCR with keep_aspect_ratio gives the same for the
    configs here): scaled width rounded up, clamped to [min_width, max_width], then rounded to the
    nearest multiple of width_divisor (Python's round: halves go to the even multiple)."""
    new_w = math.ceil(spec["height"] / max(height, 1) * width)
    new_w = max(spec.get("min_width", 1), new_w)
    if spec.get("max_width"):
        new_w = min(spec["max_width"], new_w)
    divisor = spec.get("width_divisor", 1)
    if new_w % divisor:
        new_w = round(new_w / divisor) * divisor
    return max(divisor, new_w)


def preprocess(image: np.ndarray, spec: dict[str, Any]) -> tuple[np.ndarray, float]:
    """BGR uint8 crop -> (C, H, W) float32 tensor and its valid ratio."""
    if spec.get("color") == "grayscale":
        image = to_gray(image)
    elif spec.get("color") == "rgb":  # 0.x configs with Normalize(to_rgb=True)
        image = np.ascontiguousarray(image[:, :, ::-1])
    height, width = image.shape[:2]
    new_w = spec["width"] if "width" in spec else target_width(height, width, spec)
    resized = cv2.resize(image, (new_w, spec["height"]), interpolation=cv2.INTER_LINEAR)
    if resized.ndim == 2:
        resized = resized[:, :, None]
    valid_ratio = 1.0
    if spec.get("pad_width") and new_w < spec["pad_width"]:
        valid_ratio = new_w / spec["pad_width"]
        resized = np.pad(resized, ((0, 0), (0, spec["pad_width"] - new_w), (0, 0)))
    mean = np.asarray(spec["mean"], np.float32)
    std = np.asarray(spec["std"], np.float32)
    tensor = (resized.astype(np.float32) - mean) / std
    return tensor.transpose(2, 0, 1).copy(), valid_ratio


def load_torch_runner(spec: Any, device: Device = Device(), threads: int = 1) -> TorchRunner:
    """Build the config's network and load the checkpoint strictly."""
    from handlers.families.mmocr_rec import build_model

    return load_checkpoint_runner(build_model(spec.config["arch"]), spec.weights, device, threads)


Postprocess = Callable[[np.ndarray, Sequence[float]], list]


def postprocessor(arch: str) -> Postprocess:
    """The family's own postprocess over (N, T, C) probabilities, without its weights: the
    network is built once and moved to the meta device (its dictionary and rules stay). Greedy
    CTC and attention decoding are numpy (mmocr_rec/decoding.py), as for the torch runtime."""
    import torch

    from handlers.families.mmocr_rec import build_model

    model = build_model(arch).to("meta")
    takes_ratios = "valid_ratios" in inspect.signature(model.postprocess).parameters

    def decode(probs: np.ndarray, ratios: Sequence[float]) -> list:
        probs = torch.from_numpy(np.ascontiguousarray(probs))
        return model.postprocess(probs, list(ratios)) if takes_ratios else model.postprocess(probs)
    return decode


class OrtProbs:
    """An exported recogniser's ONNX session (onnx_export.py): image and, when the graph takes it,
    valid_ratio in; per-step probabilities out."""

    def __init__(self, source: Path | Any, threads: int = 1):
        if isinstance(source, (str, Path)):
            source = OnnxRunner(Path(source), Device(), threads)
        self.session = getattr(source, "session", source)
        self.inputs = [i.name for i in self.session.get_inputs()]
        if self.inputs[0] != "image" or not set(self.inputs) <= {"image", "valid_ratio"}:
            raise ValueError(f"not an exported MMOCR recogniser: inputs {self.inputs}, expected "
                             "image[, valid_ratio] (ocrserve export-onnx writes them)")

    def __call__(self, batch: np.ndarray, valid_ratios: Sequence[float]) -> np.ndarray:
        feed = {"image": batch}
        if "valid_ratio" in self.inputs:
            feed["valid_ratio"] = np.asarray(valid_ratios, np.float64)
        return self.session.run(None, feed)[0]


def as_recognition(read: Any, valid_ratio: float) -> Recognition:
    """A decoded crop in the recognition shape. CTC reads go through the one position adapter
    (the valid part of the input is the crop: one frame is 1 / (T * valid_ratio) of it);
    attention results have no positions."""
    if not (isinstance(read, DecodedText) and read.frames):
        return Recognition(read.text, read.score, [], 0.0)
    return with_positions(read, 1.0 / (read.frames * valid_ratio))


class MMOCRRecognizer:
    """Reads crops with an MMOCR recogniser (torch runner: the module's predict(); ONNX runner:
    the exported probabilities decoded in numpy); CTC models also report character positions."""

    def __init__(self, runner: TorchRunner | Any, cfg: MMOCRRecConfig):
        self.runner = runner
        self.cfg = cfg
        self._read = self._torch_read if isinstance(runner, TorchRunner) else self._onnx_reader(runner)

    def _torch_read(self, batch: np.ndarray, ratios: list[float]) -> list:
        torch = self.runner.torch
        with torch.inference_mode():
            return self.runner.module.predict(torch.from_numpy(batch).to(str(self.runner.device)), ratios)

    def _onnx_reader(self, runner: Any) -> Callable[[np.ndarray, list[float]], list]:
        probs, decode = OrtProbs(runner), postprocessor(self.cfg.arch)
        return lambda batch, ratios: decode(probs(batch, ratios), ratios)

    def __call__(self, images: Sequence[np.ndarray]) -> list[Recognition]:
        """Read every BGR crop, in order; crops whose tensors share a shape run as one batch."""
        prepared = [preprocess(image, self.cfg.input) for image in images]
        results: list[Recognition | None] = [None] * len(images)
        groups: dict[tuple, list[int]] = {}
        for index, (tensor, _) in enumerate(prepared):
            groups.setdefault(tensor.shape, []).append(index)
        for indexes in groups.values():
            ratios = [prepared[i][1] for i in indexes]
            reads = self._read(np.stack([prepared[i][0] for i in indexes]), ratios)
            for index, read, ratio in zip(indexes, reads, ratios):
                results[index] = as_recognition(read, ratio)
        return results  # type: ignore[return-value]
