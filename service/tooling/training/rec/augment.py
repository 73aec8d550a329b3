"""Photometric and geometric augmentation of word crops (the ones MMOCR's recognition configs
use that matter for scene text: colour jitter, small rotation / perspective, blur).

Own code, with OpenCV, rather than a library: torchvision's PyPI wheel for this torch is a CUDA
build that does not load here (see onnx_torch.py), and albumentations would bring its own
OpenCV and pydantic pins into the service's environment for four short transforms.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentOptions:
    """Probabilities and strengths of each transform."""

    p_colour: float = 0.5
    brightness: float = 0.3  # value scale in [1 - b, 1 + b]
    contrast: float = 0.3
    saturation: float = 0.3
    hue_deg: float = 10.0
    p_geometry: float = 0.4
    max_degrees: float = 4.0
    max_corner_shift: float = 0.06  # of the crop's height, per corner and axis
    p_blur: float = 0.2


def augment(image: np.ndarray, rng: np.random.Generator, opts: AugmentOptions = AugmentOptions()) -> np.ndarray:
    """A randomly perturbed copy of a BGR uint8 crop (same kind of array)."""
    if rng.random() < opts.p_geometry:
        image = _warp(image, rng, opts)
    if rng.random() < opts.p_colour:
        image = _colour(image, rng, opts)
    if rng.random() < opts.p_blur:
        k = int(rng.choice([3, 5])) if min(image.shape[:2]) >= 24 else 3
        image = cv2.GaussianBlur(image, (k, k), 0)
    return image


def _colour(image: np.ndarray, rng: np.random.Generator, opts: AugmentOptions) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-opts.hue_deg, opts.hue_deg) / 2.0) % 180.0  # OpenCV hue: 0..180
    hsv[..., 1] *= rng.uniform(1 - opts.saturation, 1 + opts.saturation)
    hsv[..., 2] *= rng.uniform(1 - opts.brightness, 1 + opts.brightness)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    mean = out.mean()
    out = (out - mean) * rng.uniform(1 - opts.contrast, 1 + opts.contrast) + mean
    return np.clip(out, 0, 255).astype(np.uint8)


def _warp(image: np.ndarray, rng: np.random.Generator, opts: AugmentOptions) -> np.ndarray:
    """Rotate the crop's corners by a small angle and jitter each one, then warp back onto the
    same size (the border replicated, as the pipeline's crop does)."""
    h, w = image.shape[:2]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    angle = np.deg2rad(rng.uniform(-opts.max_degrees, opts.max_degrees))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    centre = np.array([w / 2, h / 2], np.float32)
    moved = (corners - centre) @ rot.T + centre
    moved += rng.uniform(-1, 1, size=(4, 2)).astype(np.float32) * opts.max_corner_shift * h
    matrix = cv2.getPerspectiveTransform(moved.astype(np.float32), corners)
    return cv2.warpPerspective(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
