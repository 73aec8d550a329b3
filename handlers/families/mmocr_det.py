"""MMOCR text detectors served from a user's checkpoint (torch runtime): DBNet and DBNet++.

The network comes from handlers/families/mmocr (native PyTorch, MMOCR 1.x key names); this
module adds what MMOCR's test pipeline does around it: keep-ratio resize to the config's scale,
BGR -> RGB, mean/std, zero padding to a multiple of 32, and DB post-processing in MMOCR's mode.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from handlers.families.db import Detection
from handlers.ops.db_postprocess import DBParams, db_postprocess
from handlers.runtime import Device, Runner, load_checkpoint_runner


@dataclass(frozen=True)
class MMOCRDetConfig:
    """The MMOCR config name and the numbers of its test pipeline."""

    arch: str
    scale: tuple[int, int]  # (long edge, short edge) limits of mmcv's keep-ratio Resize
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    pad_divisor: int
    db: dict[str, Any]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "MMOCRDetConfig":
        """`raw` names the MMOCR config (`arch`); its numbers come from the family's DEFAULT_CFGS."""
        from handlers.families.mmocr.dbnet import DEFAULT_CFGS, db_params_kwargs

        arch = raw.get("arch")
        if arch not in DEFAULT_CFGS:
            raise ValueError(f"unsupported MMOCR detector {arch!r}; supported: {', '.join(sorted(DEFAULT_CFGS))}")
        cfg = DEFAULT_CFGS[arch]
        pre = cfg["preprocess"]
        return cls(arch, tuple(cfg["test_resize"]["scale"]), tuple(pre["mean"]), tuple(pre["std"]),
                   pre["pad_size_divisor"], db_params_kwargs(arch))


def rescale_size(height: int, width: int, scale: tuple[int, int]) -> tuple[int, int]:
    """mmcv's keep-ratio rescale: the largest size fitting (long, short) edge limits; (h, w)."""
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(height, width), short_edge / min(height, width))
    return int(height * factor + 0.5), int(width * factor + 0.5)


def preprocess(image: np.ndarray, cfg: MMOCRDetConfig) -> tuple[np.ndarray, tuple[float, float]]:
    """BGR uint8 -> padded (1,3,H,W) float32 tensor and the (w, h) scale factors."""
    height, width = image.shape[:2]
    new_h, new_w = rescale_size(height, width, cfg.scale)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    rgb = resized[:, :, ::-1].astype(np.float32)
    normalised = (rgb - np.asarray(cfg.mean, np.float32)) / np.asarray(cfg.std, np.float32)
    pad_h = -new_h % cfg.pad_divisor
    pad_w = -new_w % cfg.pad_divisor
    padded = np.pad(normalised, ((0, pad_h), (0, pad_w), (0, 0)))
    return padded.transpose(2, 0, 1)[None].copy(), (new_w / width, new_h / height)


def load_torch_runner(spec: Any, device: Device = Device(), threads: int = 1) -> Runner:
    """Build the config's network and load the checkpoint (MMOCR 1.x or 0.x keys), strictly."""
    from handlers.families.mmocr import build_model, convert_mmocr0x_state_dict

    return load_checkpoint_runner(build_model(spec.config["arch"]), spec.weights, device, threads,
                                  convert=convert_mmocr0x_state_dict)


class MMOCRDetector:
    """An MMOCR DB-family network plus MMOCR's test-time pre- and post-processing."""

    def __init__(self, runner: Runner, cfg: MMOCRDetConfig):
        self.runner = runner
        self.cfg = cfg

    def __call__(self, image: np.ndarray, options: dict[str, float] | None = None) -> list[Detection]:
        """Detect text in one BGR image; `options` may override DB thresholds."""
        tensor, scale = preprocess(image, self.cfg)
        prob_map = self.runner(tensor)[0]
        params = DBParams(**{**self.cfg.db, **_db_overrides(options or {})})
        height, width = image.shape[:2]
        polygons, scores = db_postprocess(prob_map, params, scale=scale, image_size=(width, height))
        return [Detection(np.asarray(p, np.float32), float(s)) for p, s in zip(polygons, scores)]


def _db_overrides(options: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in options.items() if k in ("mask_thr", "min_text_score", "unclip_ratio")}
