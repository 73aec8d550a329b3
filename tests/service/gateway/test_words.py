"""Word boxes from character positions, and reading order of detected lines."""
from __future__ import annotations

import numpy as np

from handlers.api.results import Recognition
from handlers.ops.crop import Crop
from service.gateway.layout import row_sort
from service.gateway.words import line_words


def _crop(quad, rotated=False):
    return Crop(np.zeros((10, 10, 3), np.uint8), np.asarray(quad, np.float32), rotated)


def _read(text, spans, frame=0.02):
    return Recognition(text, 0.9, [(c, x0, x1, 0.9) for c, (x0, x1) in zip(text, spans)], frame)


def test_words_split_on_spaces_and_map_to_the_quad():
    crop = _crop([[100, 50], [300, 50], [300, 70], [100, 70]])
    read = _read("ab cd", [(0.0, 0.1), (0.1, 0.2), (0.45, 0.5), (0.6, 0.7), (0.7, 0.8)])
    words = line_words(crop, read)
    assert [w["text"] for w in words] == ["ab", "cd"]
    first, second = (np.asarray(w["box"]).reshape(4, 2) for w in words)
    assert first[:, 0].min() == 100 and abs(first[:, 0].max() - (100 + 200 * 0.21)) < 0.2
    assert abs(second[:, 0].min() - (100 + 200 * 0.57)) < 0.2  # starts 1.5 frames early
    assert (first[:, 1].min(), first[:, 1].max()) == (51.5, 68.5)  # the middle 0.85 of the line (WORD_HEIGHT)
    assert first[:, 0].max() < second[:, 0].min()


def test_flipped_line_reads_backwards_along_the_quad():
    crop = _crop([[0, 0], [100, 0], [100, 10], [0, 10]])
    read = _read("a", [(0.0, 0.2)], frame=0.0)
    [word] = line_words(crop, read, flipped=True)
    xs = np.asarray(word["box"]).reshape(4, 2)[:, 0]
    assert (xs.min(), xs.max()) == (80, 100)


def test_no_positions_means_no_words():
    assert line_words(_crop([[0, 0], [1, 0], [1, 1], [0, 1]]), Recognition("x", 1.0)) == []


def test_row_sort_baseline_top_to_bottom_then_left_to_right():
    def box(x, y):
        return [x, y, x + 10, y, x + 10, y + 5, x, y + 5, 0.9]

    rows = [box(50, 100), box(0, 103), box(0, 0), box(80, 2)]
    assert [r[:2] for r in row_sort(rows)] == [[0, 0], [80, 2], [0, 103], [50, 100]]
