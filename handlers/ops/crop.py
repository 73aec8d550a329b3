"""Quad ordering and perspective cropping of detected text regions.

Conventions (image coordinates, x right, y down):
  * a quad is a (4, 2) float32 array ordered clockwise *as seen on screen*,
    starting at the top-left vertex: TL, TR, BR, BL;
  * TL -> TR is the edge whose direction is closest to +x, so it is the
    reading direction for horizontal-ish text;
  * `crop_quad` follows PaddleOCR's `get_rotate_crop_image`: the quad is warped
    onto a `width x height` rectangle and, when the crop is tall
    (height / width >= 1.5), rotated 90 degrees counter-clockwise so that a
    vertical line becomes a horizontal one. After that rotation the reading
    direction runs along the quad's left edge TL -> BL (see word_boxes.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# height / width at and above which a crop is read as a vertical line.
ROTATE_RATIO = 1.5


@dataclass(frozen=True)
class Crop:
    """An axis-aligned text-line crop and the quad it was cut from."""

    image: np.ndarray  # H x W (x C) uint8, rotated if `rotated`
    quad: np.ndarray  # (4, 2) float32, TL, TR, BR, BL in the source image
    rotated: bool  # True when the warped crop was turned 90 deg CCW


def order_quad(points: np.ndarray) -> np.ndarray:
    """Order 4 points clockwise starting from the top-left one; (4, 2) float32."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if pts.shape != (4, 2):
        raise ValueError(f"expected 4 points, got shape {np.shape(points)}")
    centre = pts.mean(axis=0)
    # With y pointing down, increasing atan2 angle is clockwise on screen.
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles, kind="stable")]
    edges = np.roll(pts, -1, axis=0) - pts
    edge_angle = np.arctan2(edges[:, 1], edges[:, 0])
    # Zero-length edges (duplicate points) have no direction: never pick them.
    edge_angle[np.hypot(edges[:, 0], edges[:, 1]) < 1e-9] = np.inf
    # The top edge is the one pointing most nearly along +x. The tiny bias
    # breaks the +-45 degree tie towards the up-right edge, i.e. TL = the
    # left vertex of a diamond, deterministically.
    start = int(np.argmin(np.abs(edge_angle + 1e-9)))
    return np.roll(pts, -start, axis=0).astype(np.float32)


def quad_for_polygon(poly: np.ndarray) -> np.ndarray:
    """Ordered quad of a polygon: itself if K == 4, else its min-area rectangle."""
    pts = np.asarray(poly, dtype=np.float32).reshape(-1, 2)
    if len(pts) == 0:
        raise ValueError("empty polygon")
    if len(pts) == 4:
        return order_quad(pts)
    return order_quad(cv2.boxPoints(cv2.minAreaRect(pts)))


def crop_size(quad: np.ndarray) -> tuple[int, int]:
    """(width, height) of the crop of an ordered quad, at least 1 px each."""
    tl, tr, br, bl = np.asarray(quad, dtype=np.float64)
    # int() truncates, like PaddleOCR's get_rotate_crop_image.
    width = int(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    height = int(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))
    return max(width, 1), max(height, 1)


def crop_quad(image: np.ndarray, quad: np.ndarray) -> Crop:
    """Perspective-crop `quad` from `image`, turning tall crops 90 deg CCW."""
    ordered = order_quad(quad)
    width, height = crop_size(ordered)
    target = np.array(
        [[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32
    )
    if _is_degenerate(ordered):
        warped = _bbox_crop(image, ordered, width, height)
    else:
        matrix = cv2.getPerspectiveTransform(ordered, target)
        warped = cv2.warpPerspective(
            image,
            matrix,
            (width, height),
            flags=cv2.INTER_CUBIC,
            borderMode=cv2.BORDER_REPLICATE,
        )
    rotated = height / width >= ROTATE_RATIO
    if rotated:
        # Contiguous so that later cv2 / ONNX calls get a normal array.
        warped = np.ascontiguousarray(np.rot90(warped))
    return Crop(image=warped, quad=ordered, rotated=rotated)


def _is_degenerate(quad: np.ndarray) -> bool:
    """True when the quad has (almost) no area, so no homography exists."""
    return abs(cv2.contourArea(quad.astype(np.float32))) < 1e-3


def _bbox_crop(image: np.ndarray, quad: np.ndarray, width: int, height: int) -> np.ndarray:
    """Fallback for degenerate quads: resize their clipped bounding box."""
    h, w = image.shape[:2]
    x0, y0 = np.clip(np.floor(quad.min(axis=0)).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(quad.max(axis=0)).astype(int), 0, [w - 1, h - 1])
    patch = image[y0 : y1 + 1, x0 : x1 + 1]
    return cv2.resize(patch, (width, height), interpolation=cv2.INTER_CUBIC)
