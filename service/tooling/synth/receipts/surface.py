"""What the receipt lies on, and light falling across it: backgrounds, clutter and shadows."""
from __future__ import annotations

import cv2
import numpy as np

# BGR base colours of common surfaces; 'colour' draws any hue
SURFACES = {
    "wood": ((40, 80, 130), (30, 60, 100), (70, 110, 160), (25, 45, 70)),
    "dark": ((25, 25, 25), (40, 35, 30), (50, 50, 55)),
    "grey": ((120, 120, 120), (170, 170, 165), (90, 95, 100), (200, 200, 195)),
    "cloth": ((120, 60, 40), (50, 90, 60), (60, 60, 140), (150, 140, 120)),
}
SURFACE_P = {"wood": 0.3, "dark": 0.2, "grey": 0.25, "cloth": 0.15, "colour": 0.1}


def _base_colour(rng: np.random.Generator) -> np.ndarray:
    names = list(SURFACE_P)
    kind = names[int(rng.choice(len(names), p=list(SURFACE_P.values())))]
    if kind == "colour":
        return rng.uniform(30, 220, size=3)
    options = SURFACES[kind]
    return np.asarray(options[int(rng.integers(len(options)))], dtype=np.float64) + rng.normal(0, 12, size=3)


def background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth surface with grain and sometimes objects lying on it, uint8 BGR (h, w, 3)."""
    base = _base_colour(rng)
    gy, gx = int(rng.integers(2, 7)), int(rng.integers(2, 7))
    shade = rng.normal(1.0, 0.12, size=(gy, gx, 1))  # the same for every channel: no rainbow
    low = base * shade + rng.normal(0, 4, size=(gy, gx, 3))
    if rng.random() < 0.4:  # grain / stripes of wood or fabric
        rows = int(rng.integers(40, 200))
        stripes = np.sin(np.linspace(0, rng.uniform(20, 120), rows))[:, None, None] * rng.uniform(3, 14)
        low = cv2.resize(low, (gx, rows), interpolation=cv2.INTER_LINEAR) + stripes
    img = cv2.resize(low.clip(0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.35:
        _clutter(img, rng)
    return img


def _clutter(img: np.ndarray, rng: np.random.Generator) -> None:
    """Other things on the table (a phone, another paper, a mug): plain shapes, drawn in place."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(1, 4))):
        colour = tuple(int(c) for c in rng.uniform(0, 255, size=3))
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        rw, rh = int(rng.integers(w // 10, w // 2)), int(rng.integers(h // 10, h // 2))
        if rng.random() < 0.6:
            box = cv2.boxPoints(((cx, cy), (rw, rh), float(rng.uniform(0, 90))))
            cv2.fillConvexPoly(img, np.round(box).astype(np.int32), colour, lineType=cv2.LINE_AA)
        else:
            cv2.ellipse(img, (cx, cy), (rw // 2, rh // 2), 0, 0, 360, colour, -1, lineType=cv2.LINE_AA)


def cast_shadow(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A soft shadow (a hand, a phone) darkening part of the photo."""
    h, w = img.shape[:2]
    small = np.full((64, 64), 255, np.uint8)
    pts = rng.uniform(0, 64, size=(int(rng.integers(3, 6)), 2))
    edge = int(rng.integers(4))  # the shadow enters from one side of the frame
    pts[:2, edge % 2] = 0 if edge < 2 else 63
    cv2.fillPoly(small, [cv2.convexHull(np.round(pts).astype(np.int32))], int(rng.uniform(140, 215)))
    small = cv2.GaussianBlur(small, (0, 0), float(rng.uniform(2, 6)))
    mask = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.multiply(img, cv2.merge([mask, mask, mask]), scale=1 / 255)
