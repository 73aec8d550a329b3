"""DB (Differentiable Binarization) text detectors: resize rule, normalisation, bitmap -> polygons."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from handlers.api.results import Detection
from handlers.ops.db_postprocess import DBParams, db_postprocess
from handlers.runtime import Runner

@dataclass(frozen=True)
class DBConfig:
    """Input conventions and post-processing thresholds of one DB detector."""

    channel_order: str = "BGR"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    limit_side_len: int = 736
    limit_type: str = "min"  # 'min': scale the short side up to the limit; 'max': long side down
    max_side_len: int = 2000
    mask_thr: float = 0.3
    min_text_score: float = 0.5
    unclip_ratio: float = 1.5
    dilate: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "DBConfig":
        """Validate a zoo `config` mapping; unknown keys are refused."""
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        unknown = set(raw) - names
        if unknown:
            raise ValueError(f"unknown DB config keys: {sorted(unknown)}")
        cfg = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
        if cfg.channel_order not in ("BGR", "RGB") or cfg.limit_type not in ("min", "max"):
            raise ValueError("channel_order must be BGR or RGB and limit_type min or max")
        return cfg

    def with_options(self, options: dict[str, float]) -> "DBConfig":
        """A copy with per-request overrides applied (already validated by handlers/api/det_options.py)."""
        return dataclasses.replace(self, **options) if options else self


def target_size(height: int, width: int, cfg: DBConfig) -> tuple[int, int]:
    """Network input (h, w): the limit rule, capped by max_side_len, rounded to multiples of 32."""
    if cfg.limit_type == "min":
        ratio = max(1.0, cfg.limit_side_len / min(height, width))
    else:
        ratio = min(1.0, cfg.limit_side_len / max(height, width))
    ratio = min(ratio, cfg.max_side_len / max(height, width))
    new_h = max(32, int(round(height * ratio / 32)) * 32)
    new_w = max(32, int(round(width * ratio / 32)) * 32)
    return new_h, new_w


def preprocess(image: np.ndarray, cfg: DBConfig) -> tuple[np.ndarray, tuple[float, float]]:
    """BGR uint8 image -> (1,3,H,W) float32 tensor and the (w, h) scale factors applied."""
    height, width = image.shape[:2]
    new_h, new_w = target_size(height, width, cfg)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return normalise(resized, cfg)[None], (new_w / width, new_h / height)


def normalise(image: np.ndarray, cfg: DBConfig) -> np.ndarray:
    """BGR uint8 (H, W, 3) -> the network's float32 (3, H, W): channel order, mean and std."""
    if cfg.channel_order == "RGB":
        image = image[:, :, ::-1]
    scale = np.float32(1.0 / 255.0) / np.asarray(cfg.std, np.float32)
    shift = np.asarray(cfg.mean, np.float32) / np.asarray(cfg.std, np.float32)
    return (image.astype(np.float32) * scale - shift).transpose(2, 0, 1).copy()


class DBDetector:
    """A DB network plus its pre- and post-processing."""

    def __init__(self, runner: Runner, cfg: DBConfig):
        self.runner = runner
        self.cfg = cfg

    def __call__(self, image: np.ndarray, options: dict[str, float] | None = None) -> list[Detection]:
        """Detect text regions in one BGR image."""
        cfg = self.cfg.with_options(options or {})
        if min(image.shape[:2]) < 2:
            return []
        tensor, scale = preprocess(image, cfg)
        prob_map = self.runner(tensor)[0, 0]
        params = DBParams(mask_thr=cfg.mask_thr, min_text_score=cfg.min_text_score,
                          unclip_ratio=cfg.unclip_ratio, score_mode="box", dilate=cfg.dilate,
                          text_repr_type="quad")
        height, width = image.shape[:2]
        polygons, scores = db_postprocess(prob_map, params, scale=scale, image_size=(width, height))
        return [Detection(np.asarray(p, np.float32), float(s)) for p, s in zip(polygons, scores)]
