"""MMOCR text recognisers served from a user's checkpoint (torch runtime).

The networks come from handlers/families/mmocr_rec (native PyTorch, MMOCR 1.x key names); this
module adds MMOCR's test pipeline around them: fixed resize or rescale-to-height (width rounded
down to the divisor, clamped), optional zero padding to a fixed width with its valid ratio,
grayscale when the config reads grayscale, and mean/std on the BGR channels (MMOCR's recognition
preprocessor does not convert to RGB). Crops whose tensors have the same shape run as one batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import cv2
import numpy as np

from handlers.families.ctc import Recognition
from handlers.runtime import Device, TorchRunner, load_checkpoint_runner


@dataclass(frozen=True)
class MMOCRRecConfig:
    """The MMOCR config name and its test-pipeline numbers (from the family's DEFAULT_CFGS)."""

    arch: str
    input: dict[str, Any]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "MMOCRRecConfig":
        from handlers.families.mmocr_rec import config_of

        try:
            return cls(raw.get("arch"), dict(config_of(raw.get("arch"))["input"]))
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None


def to_gray(image: np.ndarray) -> np.ndarray:
    """Grayscale as MMOCR gets it when it reads a colour PNG as grayscale (libpng's rgb_to_gray:
    0.299/0.587/0.114 in 15-bit fixed point, truncated); cv2.cvtColor rounds, 1 level off on
    half the pixels."""
    b, g, r = (image[:, :, i].astype(np.uint32) for i in range(3))
    return ((9798 * r + 19235 * g + 3735 * b) >> 15).astype(np.uint8)


def target_width(height: int, width: int, spec: dict[str, Any]) -> int:
    """MMOCR's RescaleToHeight width: keep the ratio, clamp, round down to the divisor."""
    new_w = int(round(width * spec["height"] / max(height, 1)))
    new_w = max(spec.get("min_width", 1), new_w)
    if spec.get("max_width"):
        new_w = min(spec["max_width"], new_w)
    divisor = spec.get("width_divisor", 1)
    return max(divisor, new_w // divisor * divisor)


def preprocess(image: np.ndarray, spec: dict[str, Any]) -> tuple[np.ndarray, float]:
    """BGR uint8 crop -> (C, H, W) float32 tensor and its valid ratio."""
    if spec.get("color") == "grayscale":
        image = to_gray(image)
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


class MMOCRRecognizer:
    """Reads crops with an MMOCR recogniser; results in the CTC family's shape (no char positions)."""

    def __init__(self, runner: TorchRunner, cfg: MMOCRRecConfig):
        self.runner = runner
        self.cfg = cfg

    def __call__(self, images: Sequence[np.ndarray]) -> list[Recognition]:
        """Read every BGR crop, in order."""
        prepared = [preprocess(image, self.cfg.input) for image in images]
        results: list[Recognition | None] = [None] * len(images)
        groups: dict[tuple, list[int]] = {}
        for index, (tensor, _) in enumerate(prepared):
            groups.setdefault(tensor.shape, []).append(index)
        torch = self.runner.torch
        for indexes in groups.values():
            batch = torch.from_numpy(np.stack([prepared[i][0] for i in indexes])).to(str(self.runner.device))
            with torch.inference_mode():
                reads = self.runner.module.predict(batch, [prepared[i][1] for i in indexes])
            for index, read in zip(indexes, reads):
                results[index] = Recognition(read.text, read.score, [], 0.0)
        return results  # type: ignore[return-value]
