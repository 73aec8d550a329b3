"""CTC text recognisers (PP-OCR style): height-48 keep-ratio resize, batches of equal width, greedy decode.

A crop is read at a padded width that depends on the crop alone (`padded_width`), never on the
crops read beside it: a served read is the same whether the image came alone or batched by
TorchServe with other requests' crops."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Sequence

import cv2
import numpy as np

from handlers.api.results import Recognition
from handlers.ops.ctc_decode import DecodedText, char_positions, ctc_greedy_decode
from handlers.runtime import Runner


@dataclass(frozen=True)
class CTCConfig:
    """Input conventions of one CTC recogniser."""

    height: int = 48
    min_width: int = 320  # PP-OCR pads every line to at least 320 px (ratio 6.67)
    max_width: int = 3200
    width_multiple: int = 8  # one CTC frame per 8 input pixels for PP-OCR nets
    max_batch: int = 8
    mean: float = 0.5
    std: float = 0.5
    charset: tuple[str, ...] = ()
    use_space_char: bool = True

    @classmethod
    def from_dict(cls, raw: dict[str, Any], charset: Sequence[str]) -> "CTCConfig":
        """Validate a zoo `config` mapping; `charset` is resolved by the caller."""
        raw = {k: v for k, v in raw.items() if k != "charset"}
        names = {f.name for f in dataclasses.fields(cls)} - {"charset"}
        unknown = set(raw) - names
        if unknown:
            raise ValueError(f"unknown CTC config keys: {sorted(unknown)}")
        cfg = cls(**raw, charset=tuple(charset))
        if not cfg.charset:
            raise ValueError("a CTC recogniser needs a non-empty character set")
        return cfg

    def classes(self) -> list[str]:
        """Characters by class index minus one (class 0 is the CTC blank)."""
        return list(self.charset) + ([" "] if self.use_space_char else [])


def resized_width(image: np.ndarray, cfg: CTCConfig) -> int:
    """Width of the crop once scaled to the model height, capped at max_width."""
    height, width = image.shape[:2]
    return max(1, min(cfg.max_width, math.ceil(cfg.height * width / max(height, 1))))


def padded_width(width: int, cfg: CTCConfig) -> int:
    """The width a crop `width` pixels wide (once resized) is read at: its own, in whole
    `width_multiple`s, at least min_width. Coarser buckets (each 1.25 times the last) would batch
    more crops together but cost 1.2 points of word accuracy on receipt lines (bench/ctc_padding.py)."""
    return _round_up(max(cfg.min_width, width), cfg.width_multiple)


def _round_up(value: float, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def plan_batches(widths: Sequence[int], cfg: CTCConfig) -> list[list[int]]:
    """Group crop indices by their padded width (equal within a batch), at most max_batch to a
    batch, narrowest first."""
    buckets: dict[int, list[int]] = {}
    for index in sorted(range(len(widths)), key=lambda i: widths[i]):
        buckets.setdefault(padded_width(widths[index], cfg), []).append(index)
    return [members[start:start + cfg.max_batch] for _, members in sorted(buckets.items())
            for start in range(0, len(members), cfg.max_batch)]


def batch_tensor(images: Sequence[np.ndarray], widths: Sequence[int], cfg: CTCConfig) -> np.ndarray:
    """Resize, normalise and right-pad crops into one (N,3,H,W) float32 tensor, as wide as the
    widest crop's padded width (a served batch's crops share theirs; a training batch's need not)."""
    padded = padded_width(max(widths), cfg)
    tensor = np.zeros((len(images), 3, cfg.height, padded), np.float32)
    for row, (image, width) in enumerate(zip(images, widths)):
        resized = cv2.resize(image, (width, cfg.height), interpolation=cv2.INTER_LINEAR)
        tensor[row, :, :, :width] = ((resized.astype(np.float32) / 255.0 - cfg.mean) / cfg.std).transpose(2, 0, 1)
    return tensor


class CTCRecognizer:
    """A CTC network plus its resize, batching and decoding."""

    def __init__(self, runner: Runner, cfg: CTCConfig):
        self.runner = runner
        self.cfg = cfg
        self.classes = cfg.classes()

    def __call__(self, images: Sequence[np.ndarray]) -> list[Recognition]:
        """Read every BGR crop; results come back in input order."""
        widths = [resized_width(image, self.cfg) for image in images]
        results: list[Recognition | None] = [None] * len(images)
        for batch in plan_batches(widths, self.cfg):
            batch_widths = [widths[i] for i in batch]
            tensor = batch_tensor([images[i] for i in batch], batch_widths, self.cfg)
            probs = self.runner(tensor)
            frame_px = tensor.shape[3] / probs.shape[1]
            for row, decoded in zip(batch, ctc_greedy_decode(probs, self.classes)):
                results[row] = with_positions(decoded, frame_px / widths[row])
        return results  # type: ignore[return-value]


def with_positions(decoded: DecodedText, frame: float) -> Recognition:
    """A CTC read in the recognition shape: frame spans become fractions of the crop's width
    (`frame`: the width of one frame as such a fraction). Every CTC family uses this."""
    return Recognition(decoded.text, float(decoded.score), char_positions(decoded, frame), frame)
