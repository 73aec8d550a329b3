"""Training samples for DB: the augmentations of MMOCR's DBNet recipe that matter for fine-tuning.

Per sample, in order: random scale (around the scale the served model sees: the zoo config's
resize rule), small random rotation (the canvas grows so nothing is cut), colour jitter
(brightness, contrast, saturation), then a fixed-size crop that keeps text: the window is placed
to hold one randomly chosen cared word entirely, among a few tries the one cutting the fewest
words wins, and a word the window still cuts becomes a don't-care region (it is neither text nor
background for the loss) instead of a truncated polygon with false borders. Images smaller than the
crop are padded with the mean colour (zero after normalisation).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentOptions:
    size: int = 640  # training crop, square
    scale: tuple[float, float] = (0.7, 1.5)  # x the served resize scale
    rotate: float = 10.0  # degrees, uniform in [-rotate, rotate]
    jitter: float = 0.3  # brightness / contrast / saturation strength
    crop_tries: int = 8


def _rotate(image: np.ndarray, polygons: list[np.ndarray], angle: float, fill) -> tuple[np.ndarray, list[np.ndarray]]:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(np.ceil(height * sin + width * cos)), int(np.ceil(height * cos + width * sin))
    matrix[0, 2] += (new_w - width) / 2
    matrix[1, 2] += (new_h - height) / 2
    rotated = cv2.warpAffine(image, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    moved = [np.hstack([p, np.ones((len(p), 1))]) @ matrix.T for p in polygons]
    return rotated, moved


def _jitter(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    out = image.astype(np.float32)
    out *= rng.uniform(1 - strength, 1 + strength)  # brightness
    mean = out.mean()
    out = (out - mean) * rng.uniform(1 - strength, 1 + strength) + mean  # contrast
    grey = out.mean(axis=2, keepdims=True)
    out = (out - grey) * rng.uniform(1 - strength, 1 + strength) + grey  # saturation
    return np.clip(out, 0, 255).astype(np.uint8)


def _inside(polygon: np.ndarray, x0: int, y0: int, size: int) -> bool:
    return bool((polygon.min(axis=0) >= [x0, y0]).all() and (polygon.max(axis=0) <= [x0 + size, y0 + size]).all())


def _cut(polygon: np.ndarray, x0: int, y0: int, size: int) -> bool:
    """Partly inside the window (neither wholly in nor wholly out)."""
    lo, hi = polygon.min(axis=0), polygon.max(axis=0)
    overlaps = hi[0] > x0 and lo[0] < x0 + size and hi[1] > y0 and lo[1] < y0 + size
    return overlaps and not _inside(polygon, x0, y0, size)


def _window(polygons: list[np.ndarray], ignored: list[bool], height: int, width: int, size: int,
            tries: int, rng: np.random.Generator) -> tuple[int, int]:
    max_x, max_y = max(width - size, 0), max(height - size, 0)
    cared = [p for p, ign in zip(polygons, ignored) if not ign]
    best, best_cuts = (int(rng.integers(0, max_x + 1)), int(rng.integers(0, max_y + 1))), None
    for _ in range(tries if cared else 0):
        anchor = cared[int(rng.integers(len(cared)))]
        lo, hi = anchor.min(axis=0), anchor.max(axis=0)
        # window origins that hold the anchor word entirely (any origin when it is larger than the window)
        x_lo, x_hi = int(np.ceil(hi[0])) - size, int(np.floor(lo[0]))
        y_lo, y_hi = int(np.ceil(hi[1])) - size, int(np.floor(lo[1]))
        x_lo, x_hi = max(min(x_lo, max_x), 0), max(min(x_hi, max_x), 0)
        y_lo, y_hi = max(min(y_lo, max_y), 0), max(min(y_hi, max_y), 0)
        x0 = int(rng.integers(min(x_lo, x_hi), max(x_lo, x_hi) + 1))
        y0 = int(rng.integers(min(y_lo, y_hi), max(y_lo, y_hi) + 1))
        cuts = sum(_cut(p, x0, y0, size) for p in cared)
        if best_cuts is None or cuts < best_cuts:
            best, best_cuts = (x0, y0), cuts
            if cuts == 0:
                break
    return best


def augment(image: np.ndarray, polygons: list[np.ndarray], ignored: list[bool], base_scale: float,
            opts: AugmentOptions, rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray], list[bool]]:
    """One training crop (size x size BGR uint8) and its polygons / don't-care flags in crop pixels."""
    fill = tuple(float(v) for v in image.reshape(-1, 3).mean(axis=0))
    scale = base_scale * rng.uniform(*opts.scale)
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    polygons = [np.asarray(p, np.float64).reshape(-1, 2) * scale for p in polygons]
    if opts.rotate:
        image, polygons = _rotate(image, polygons, float(rng.uniform(-opts.rotate, opts.rotate)), fill)
    if opts.jitter:
        image = _jitter(image, opts.jitter, rng)
    height, width = image.shape[:2]
    size = opts.size
    x0, y0 = _window(polygons, ignored, height, width, size, opts.crop_tries, rng)
    crop = np.empty((size, size, 3), np.uint8)
    crop[:] = np.round(fill).astype(np.uint8)
    part = image[y0:y0 + size, x0:x0 + size]
    crop[:part.shape[0], :part.shape[1]] = part
    out_polys, out_ignored = [], []
    for polygon, ign in zip(polygons, ignored):
        lo, hi = polygon.min(axis=0), polygon.max(axis=0)
        if hi[0] <= x0 or lo[0] >= x0 + size or hi[1] <= y0 or lo[1] >= y0 + size:
            continue
        out_polys.append(polygon - [x0, y0])
        out_ignored.append(ign or _cut(polygon, x0, y0, size))
    return crop, out_polys, out_ignored
