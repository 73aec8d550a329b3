"""Text-line direction classifier (0 or 180 degrees), PP-OCR style."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Sequence

import cv2
import numpy as np

from handlers.api.results import Orientation
from handlers.runtime import Runner


@dataclass(frozen=True)
class AngleConfig:
    """Input size, labels and the confidence needed before a crop is turned."""

    labels: tuple[str, ...] = ("0", "180")
    height: int = 48
    width: int = 192
    threshold: float = 0.9
    max_batch: int = 16

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "AngleConfig":
        """Validate a zoo `config` mapping."""
        unknown = set(raw) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown angle config keys: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


class AngleClassifier:
    """Classifies crops as upright or upside down."""

    def __init__(self, runner: Runner, cfg: AngleConfig):
        self.runner = runner
        self.cfg = cfg

    def _tensor(self, images: Sequence[np.ndarray]) -> np.ndarray:
        cfg = self.cfg
        tensor = np.zeros((len(images), 3, cfg.height, cfg.width), np.float32)
        for row, image in enumerate(images):
            h, w = image.shape[:2]
            width = max(1, min(cfg.width, math.ceil(cfg.height * w / max(h, 1))))
            resized = cv2.resize(image, (width, cfg.height)).astype(np.float32)
            tensor[row, :, :, :width] = ((resized / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)
        return tensor

    def __call__(self, images: Sequence[np.ndarray]) -> list[Orientation]:
        """Classify every BGR crop, in order."""
        results: list[Orientation] = []
        for start in range(0, len(images), self.cfg.max_batch):
            probs = self.runner(self._tensor(images[start:start + self.cfg.max_batch]))
            for row in probs:
                best = int(np.argmax(row))
                label = self.cfg.labels[best]
                score = float(row[best])
                results.append(Orientation(label, score, label == "180" and score >= self.cfg.threshold))
        return results
