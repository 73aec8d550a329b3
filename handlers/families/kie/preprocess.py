"""Test-time input preparation of the SDMG-R WildReceipt configs (MMOCR 1.x semantics).

* ``Resize(scale=(1024, 512), keep_ratio=True)``: the image is rescaled by
  ``min(1024 / long_edge, 512 / short_edge)``, new size ``int(w * s + 0.5) x int(h * s + 0.5)``,
  OpenCV bilinear; the boxes are multiplied by the per-axis factors (new_w / w, new_h / h) and
  clipped to the resized image. The novisual config loads no image: the boxes are scaled with
  the image size from the annotation.
* data preprocessor (visual config only): BGR -> RGB, ``(x - mean) / std`` per RGB channel,
  zero padding (in normalised space) at the bottom / right to a multiple of 32.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)


def rescale_size(width: int, height: int, scale: Sequence[int] = (1024, 512)) -> tuple[int, int, float]:
    """(new_w, new_h, factor) of a keep-ratio resize to fit ``scale`` (long, short edge)."""
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(width, height), short_edge / min(width, height))
    return int(width * float(factor) + 0.5), int(height * float(factor) + 0.5), factor


def scale_boxes(boxes: np.ndarray | torch.Tensor, width: int, height: int,
                scale: Sequence[int] = (1024, 512)) -> tuple[torch.Tensor, tuple[float, float], tuple[int, int]]:
    """Boxes (N, 4) x1y1x2y2 of a ``width x height`` image -> (float32 boxes in the resized image,
    (w_factor, h_factor), (new_h, new_w))."""
    new_w, new_h, _ = rescale_size(width, height, scale)
    w_f, h_f = new_w / width, new_h / height
    # float32 boxes times float64 factors, clipped, stored as float32 (as the reference does)
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) * np.array([w_f, h_f, w_f, h_f])
    b[:, 0::2] = b[:, 0::2].clip(0, new_w)
    b[:, 1::2] = b[:, 1::2].clip(0, new_h)
    return torch.from_numpy(b.astype(np.float32)), (w_f, h_f), (new_h, new_w)


def resize_image(img_bgr: np.ndarray, scale: Sequence[int] = (1024, 512)) -> np.ndarray:
    import cv2

    h, w = img_bgr.shape[:2]
    new_w, new_h, _ = rescale_size(w, h, scale)
    return cv2.resize(img_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)


def normalize_and_pad(img_bgr: np.ndarray, mean: Sequence[float] = MEAN, std: Sequence[float] = STD,
                      pad_size_divisor: int = 32) -> torch.Tensor:
    """uint8 HxWx3 BGR -> (1, 3, H', W') float32 RGB normalised, zero-padded to the divisor."""
    x = torch.from_numpy(np.ascontiguousarray(img_bgr[..., ::-1])).permute(2, 0, 1).float()
    x = (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    h, w = x.shape[-2:]
    ph = -(-h // pad_size_divisor) * pad_size_divisor
    pw = -(-w // pad_size_divisor) * pad_size_divisor
    return torch.nn.functional.pad(x, (0, pw - w, 0, ph - h), value=0.0)[None]


def prepare(img_bgr: np.ndarray | None, boxes, image_size: tuple[int, int] | None = None,
            scale: Sequence[int] = (1024, 512), with_image: bool = True):
    """Model inputs of one document: (img tensor or None, boxes (N, 4), (w_factor, h_factor)).

    ``image_size`` = (height, width) is needed only when no image is given (novisual)."""
    if img_bgr is not None:
        height, width = img_bgr.shape[:2]
    elif image_size is not None:
        height, width = image_size
    else:
        raise ValueError("give the image or its (height, width)")
    scaled, factors, _ = scale_boxes(boxes, width, height, scale)
    tensor = None
    if with_image:
        if img_bgr is None:
            raise ValueError("this config needs the image")
        tensor = normalize_and_pad(resize_image(img_bgr, scale))
    return tensor, scaled, factors
