"""One vertex order for every detector's `boundary_result` (the documented convention).

Image coordinates (x right, y down). A polygon runs clockwise *as seen on screen*. A quad starts
at its top-left vertex as `crop.order_quad` defines it (TL -> TR is the edge closest to +x); a
longer polygon (TextSnake, FCENet, DRRG contours) starts at the vertex with the smallest x + y,
the one nearest the image's top-left corner, lower y on a tie. MMOCR's post-processors return
quads from OpenCV's `boxPoints` (which starts at the lowest vertex) and contours in either
direction; this only re-orders vertices, it never moves one.
"""
from __future__ import annotations

import numpy as np

from handlers.ops.crop import order_quad


def _signed_area(pts: np.ndarray) -> float:
    """Shoelace area; positive for clockwise on screen in y-down coordinates."""
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def clockwise_from_top_left(polygon: np.ndarray) -> np.ndarray:
    """The same vertices, clockwise on screen from the top-left one; (K, 2) float32."""
    pts = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3:
        return pts.astype(np.float32)
    if _signed_area(pts) < 0:
        pts = pts[::-1]
    if len(pts) == 4:
        ordered = order_quad(pts)
        # order_quad sorts by angle: keep it only when that is a pure rotation (a convex quad)
        for shift in range(4):
            if np.array_equal(np.roll(pts, -shift, axis=0).astype(np.float32), ordered):
                return ordered
    start = int(np.lexsort((pts[:, 1], pts[:, 0] + pts[:, 1]))[0])
    return np.roll(pts, -start, axis=0).astype(np.float32)
