"""DB targets on a known polygon: shrink offset, threshold map, don't-care masks."""
from __future__ import annotations

import numpy as np
import pytest

from service.tooling.training.det.targets import db_targets, offset_distance

# a 100 x 40 box: A = 4000, L = 280, D = A (1 - 0.4^2) / L = 12
BOX = np.array([[50, 50], [150, 50], [150, 90], [50, 90]], np.float64)


def test_offset_distance_is_the_papers():
    assert offset_distance(BOX) == pytest.approx(12.0)
    assert offset_distance(BOX, ratio=0.5) == pytest.approx(4000 * 0.75 / 280)


def test_shrink_map_is_the_box_shrunk_by_d():
    t = db_targets(150, 200, [BOX], [False])
    ys, xs = np.nonzero(t.shrink)
    # the box shrunk by 12 on every side: x 62..138, y 62..78
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (62, 138, 62, 78)
    assert t.shrink[70, 100] == 1 and t.shrink[55, 55] == 0  # inside the box, outside the shrunk one
    assert t.shrink_mask.min() == 1  # nothing ignored


def test_threshold_map_follows_the_distance_to_the_edges():
    t = db_targets(150, 200, [BOX], [False])
    assert t.thr[70, 50] == pytest.approx(0.7)  # on the left edge
    assert t.thr[70, 44] == pytest.approx(0.5)  # 6 px out: half of D
    assert t.thr[70, 56] == pytest.approx(0.5)  # 6 px in
    assert t.thr[70, 100] == pytest.approx(0.3)  # the centre, 20 px from the nearest edge
    assert t.thr[5, 5] == pytest.approx(0.3)  # background
    # the mask is the box dilated by D (x 38..162), nothing beyond
    assert t.thr_mask[70, 39] == 1 and t.thr_mask[70, 161] == 1
    assert t.thr_mask[70, 34] == 0 and t.thr_mask[70, 166] == 0 and t.thr_mask[5, 5] == 0


def test_ignored_and_tiny_words_are_masked_out():
    tiny = np.array([[10, 10], [40, 10], [40, 15], [10, 15]], np.float64)  # 5 px high
    t = db_targets(150, 200, [BOX, tiny, BOX + [0, 50]], [True, False, False])
    assert t.shrink[70, 100] == 0 and t.shrink_mask[70, 100] == 0  # `###`: neither text nor background
    assert t.shrink[12, 25] == 0 and t.shrink_mask[12, 25] == 0  # too small to shrink
    assert t.shrink[120, 100] == 1 and t.shrink_mask[120, 100] == 1  # the cared word still counts
    assert t.thr_mask[70, 39] == 0  # no threshold band around the ignored box
