"""Turn a flat paper image into a photo: perspective / rotation onto a background, lighting,
blur and noise. The boxes go through the same homography, so they stay on the warped text."""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .labels import IGNORE
from .render import TextBox
from .surface import background, cast_shadow

NOISE_TILE = 256
MIN_TEXT_PX = 17.0  # median box height in the photo, at least
LOW_RES_P, LOW_RES_TEXT_PX = 0.25, 11.0  # some photos are small (old phones, thumbnails)
CROP_P = 0.25  # share of long receipts whose top or bottom is outside the photo
MIN_VISIBLE = 0.35  # a cut run keeps its box (as Ignore) when this share of it is visible


def _homography(paper_size: tuple[int, int], rng: np.random.Generator, scan: bool,
                min_scale: float, low_res: bool = False) -> tuple[np.ndarray, int, int]:
    """Paper -> photo homography and the photo size (the paper stays inside, or a long one is
    cut at the top or bottom). ``paper_size`` is (width, height)."""
    pw, ph = paper_size
    long_side = float(rng.uniform(450, 750) if low_res else rng.uniform(700, 1300))
    fill = 1.0 if scan else float(rng.uniform(0.7, 0.92))
    scale = max(min_scale, long_side * fill / max(ph, pw))
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], dtype=np.float32)
    dst = src * scale
    if not scan:
        jitter = rng.uniform(-0.04, 0.04, size=(4, 2)) * np.array([pw * scale, ph * scale])
        dst = dst + jitter.astype(np.float32)
        angle = np.deg2rad(rng.normal(0, 2.5) if rng.random() < 0.9 else rng.uniform(-10, 10))
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        dst = (dst - dst.mean(0)) @ rot.T.astype(np.float32)
    lo, hi = dst.min(0), dst.max(0)
    size = hi - lo
    margin = np.zeros(2) if scan else size * rng.uniform(0.03, 0.3, size=2)
    if not scan and size[0] < 0.55 * size[1]:  # portrait photo of a narrow receipt: wider frame
        margin[0] = max(margin[0], (0.55 * size[1] - size[0]) / 2 * rng.uniform(0.6, 1.4))
    offset = margin * rng.uniform(0.3, 1.0, size=2)
    dst = (dst - lo + offset).astype(np.float32)
    w, h = int(np.ceil(size[0] + 2 * margin[0])) + 1, int(np.ceil(size[1] + 2 * margin[1])) + 1
    w, h = max(w, int(np.ceil(dst[:, 0].max())) + 1), max(h, int(np.ceil(dst[:, 1].max())) + 1)
    if not scan and ph > 1.3 * pw and rng.random() < CROP_P:  # long receipt cut by the frame
        cut = float(rng.uniform(0.03, 0.15)) * size[1]
        if rng.random() < 0.5:
            top = float(dst[:, 1].min()) + cut
            dst[:, 1] -= top
            h = int(h - top)
        else:
            h = int(dst[:, 1].max() - cut)
    return cv2.getPerspectiveTransform(src, dst), w, h


@lru_cache(maxsize=1)
def _noise_tile() -> np.ndarray:
    """A fixed tile of Gaussian noise (sigma 32 around 128, uint8): tiling it at a random offset
    is much cheaper than drawing fresh noise for every pixel, and the eye cannot tell."""
    noise = np.random.default_rng(12345).normal(128, 32, size=(NOISE_TILE, NOISE_TILE, 1))
    return np.repeat(noise.clip(0, 255).astype(np.uint8), 3, axis=2)


def _degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uneven light, sensor noise and blur on a uint8 image (cv2 saturating arithmetic)."""
    h, w = img.shape[:2]
    light = cv2.resize(rng.uniform(0.72, 1.08, size=(3, 3)).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_LINEAR)
    light = (light * 128).astype(np.uint8)
    out = cv2.multiply(img, cv2.merge([light, light, light]), scale=1 / 128)
    reps = (h // NOISE_TILE + 2, w // NOISE_TILE + 2, 1)
    dy, dx = (int(v) for v in rng.integers(0, NOISE_TILE, size=2))
    noise = np.tile(_noise_tile(), reps)[dy:dy + h, dx:dx + w]
    k = float(rng.uniform(1, 7)) / 32
    out = cv2.addWeighted(out, 1.0, noise, k, -128 * k)
    if rng.random() < 0.5:
        kernel = int(rng.choice([3, 5]))
        out = cv2.GaussianBlur(out, (kernel, kernel), float(rng.uniform(0.5, 1.3)))
    return out


def photograph(paper: np.ndarray, boxes: list[TextBox],
               rng: np.random.Generator) -> tuple[np.ndarray, list[TextBox], np.ndarray]:
    """Warp ``paper`` (RGB) into a photo: (photo BGR uint8, warped boxes, 3x3 paper->photo homography)."""
    ph, pw = paper.shape[:2]
    scan = rng.random() < 0.15
    # a long receipt makes a bigger photo rather than unreadably small text
    heights = [np.linalg.norm(b.quad[3] - b.quad[0]) for b in boxes]
    low_res = rng.random() < LOW_RES_P
    text_px = LOW_RES_TEXT_PX if low_res else MIN_TEXT_PX
    min_scale = text_px / float(np.median(heights)) if heights else 0.0
    hom, w, h = _homography((pw, ph), rng, scan, min_scale, low_res)
    # warping onto the background with a transparent border composites paper and surface in one pass
    img = cv2.warpPerspective(np.ascontiguousarray(paper[..., ::-1]), hom, (w, h), dst=background(h, w, rng),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
    if rng.random() < 0.25:
        img = cast_shadow(img, rng)
    img = _degrade(img, rng)
    out = [kept for b in boxes if (kept := _warp_box(b, hom, w, h)) is not None]
    return img, out, hom


def _warp_box(box: TextBox, hom: np.ndarray, w: int, h: int) -> TextBox | None:
    """The box in the photo; a run cut by the frame becomes Ignore (empty text, as WildReceipt
    marks unreadable text) or is dropped when too little of it is visible."""
    quad = cv2.perspectiveTransform(box.quad.reshape(1, 4, 2).astype(np.float64), hom.astype(np.float64))[0]
    inside = np.clip(quad, 0, [w - 1, h - 1])
    if np.array_equal(inside, quad):
        return TextBox(quad, box.text, box.label)
    visible = cv2.contourArea(inside.astype(np.float32)) / max(cv2.contourArea(quad.astype(np.float32)), 1e-6)
    return TextBox(inside, "", IGNORE) if visible >= MIN_VISIBLE else None
