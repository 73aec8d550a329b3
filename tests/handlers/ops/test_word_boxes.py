"""Tests for handlers.ops.word_boxes: CTC spans -> word quads."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from handlers.ops.crop import crop_quad, order_quad
from handlers.ops.word_boxes import WORD_HEIGHT, span_box, split_words, word_boxes

LINE = np.array([[0, 0], [300, 0], [300, 30], [0, 30]], dtype=np.float32)
FRAME = 1 / 30  # 240 px of content padded to 320 px, 40 frames of 8 px: 1/30 of the line each


def _chars(spans: list[tuple[str, int, int]], prob: float = 0.9, frame: float = FRAME) -> list:
    """(char, first frame, end frame) -> the handler's [char, x0, x1, prob] with x in line fractions."""
    return [[c, s * frame, e * frame, prob] for c, s, e in spans]


THREE_WORDS = _chars(
    [("a", 1, 2), ("b", 3, 5), (" ", 6, 7), ("c", 8, 9), ("d", 10, 11), (" ", 12, 13),
     ("e", 14, 16)]
)


def test_split_words_ignores_extra_spaces():
    text = _chars([(" ", 0, 1), ("a", 2, 3), (" ", 3, 4), (" ", 5, 6), ("b", 7, 8), (" ", 9, 10)])
    assert [[c[0] for c in w] for w in split_words(text)] == [["a"], ["b"]]
    assert split_words([]) == []


def test_three_words_in_order_non_overlapping_inside_the_line():
    words = word_boxes(LINE, THREE_WORDS, FRAME)
    assert [w.text for w in words] == ["ab", "cd", "e"]
    spans = []
    for word in words:
        box = word.box
        assert box.shape == (4, 2) and box.dtype == np.float32
        assert word.score == pytest.approx(0.9)
        assert box[:, 0].min() >= 0 and box[:, 0].max() <= 300
        # the middle WORD_HEIGHT (0.85) of the 30 px line: the line's padding is left out
        assert np.allclose(box[:, 1], [2.25, 2.25, 27.75, 27.75])
        spans.append((box[0, 0], box[1, 0]))
    # "ab": frames 1..5 widened by 1.5 frames before, 0.5 after, in frames of 10 px (clipped at 0).
    assert spans[0] == pytest.approx((0.0, 55.0))
    assert spans[1] == pytest.approx((65.0, 115.0))
    assert spans[2] == pytest.approx((125.0, 165.0))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_spans_are_clipped_to_the_line():
    text = _chars([("x", 0, 2), (" ", 2, 3), ("y", 28, 30)])
    words = word_boxes(LINE, text, FRAME)
    assert words[0].box[0, 0] == 0.0 and words[1].box[1, 0] == pytest.approx(300.0)


def test_empty_text_gives_no_words():
    assert word_boxes(LINE, [], 0.1) == []


def test_tilted_line_follows_both_edges():
    quad = order_quad(cv2.boxPoints(((150.0, 100.0), (200.0, 30.0), 20.0)))
    box = span_box(quad, 0.25, 0.5)
    tl, tr, br, bl = quad.astype(np.float64)
    assert np.allclose(box[0], tl + 0.25 * (tr - tl), atol=1e-4)
    assert np.allclose(box[1], tl + 0.5 * (tr - tl), atol=1e-4)
    assert np.allclose(box[2], bl + 0.5 * (br - bl), atol=1e-4)
    assert np.allclose(box[3], bl + 0.25 * (br - bl), atol=1e-4)
    assert np.allclose(span_box(quad, 0.0, 1.0), quad, atol=1e-4)


def test_height_keeps_the_middle_of_the_line_across_the_reading_direction():
    assert WORD_HEIGHT == 0.85
    flat = span_box(LINE, 0.0, 0.5, height=0.5)  # reading left to right: y shrinks, x does not
    assert np.allclose(flat, [[0, 7.5], [150, 7.5], [150, 22.5], [0, 22.5]])
    tall = np.array([[40, 10], [60, 10], [60, 90], [40, 90]], dtype=np.float32)
    down = span_box(tall, 0.0, 0.5, rotated=True, height=0.5)  # reading downwards: x shrinks, y does not
    assert np.allclose(down, [[45, 10], [55, 10], [55, 50], [45, 50]])


def test_rotated_line_reads_down_the_left_edge():
    quad = np.array([[40, 10], [60, 10], [60, 90], [40, 90]], dtype=np.float32)
    assert np.allclose(span_box(quad, 0.0, 1.0, rotated=True), quad)
    top_half = span_box(quad, 0.0, 0.5, rotated=True)
    assert np.allclose(top_half, [[40, 10], [60, 10], [60, 50], [40, 50]])
    words = word_boxes(quad, _chars([("a", 1, 2), (" ", 3, 4), ("b", 5, 9)], frame=1 / 20), 1 / 20, rotated=True)
    tops = [w.box[:, 1].min() for w in words]
    assert tops == sorted(tops)  # reading order goes down the image


def test_rotated_crop_and_word_box_agree():
    """A mark found in the rotated crop maps back onto the mark in the image."""
    image = np.zeros((120, 100, 3), np.uint8)
    image[60:75, 45:55] = 255  # mark inside a vertical line region x 40..60, y 10..100
    quad = np.array([[40, 10], [60, 10], [60, 100], [40, 100]], dtype=np.float32)
    crop = crop_quad(image, quad)
    assert crop.rotated
    columns = np.flatnonzero(crop.image.max(axis=(0, 2)) > 128)
    width = crop.image.shape[1]
    t0, t1 = columns[0] / width, (columns[-1] + 1) / width
    box = span_box(crop.quad, t0, t1, rotated=crop.rotated)
    assert box[:, 1].min() == pytest.approx(60, abs=1.5)
    assert box[:, 1].max() == pytest.approx(75, abs=1.5)
    assert box[:, 0].min() == pytest.approx(40) and box[:, 0].max() == pytest.approx(60)


def test_word_score_is_mean_char_prob():
    chars = [["o", 0.0, 0.1, 0.5], ["k", 0.2, 0.3, 1.0]]
    words = word_boxes(LINE, chars, 0.1)
    assert len(words) == 1 and words[0].score == pytest.approx(0.75)


def test_flipped_line_reads_backwards():
    [word] = word_boxes(LINE, [["a", 0.0, 0.2, 0.9]], 0.0, flipped=True)
    assert word.box[:, 0].min() == pytest.approx(240) and word.box[:, 0].max() == pytest.approx(300)


def test_split_words_cuts_a_wide_gap_only_when_asked():
    # "abcd": a, b, c two frames apart, d nine frames after c (the recogniser emitted no space)
    text = _chars([("a", 0, 1), ("b", 2, 3), ("c", 4, 5), ("d", 13, 14), ("e", 15, 16)])
    assert [[c[0] for c in w] for w in split_words(text)] == [["a", "b", "c", "d", "e"]]
    assert [[c[0] for c in w] for w in split_words(text, gap=2.0)] == [["a", "b", "c"], ["d", "e"]]
    assert [[c[0] for c in w] for w in split_words(text, gap=5.0)] == [["a", "b", "c", "d", "e"]]
    # under three characters there is no pitch to compare with
    assert [[c[0] for c in w] for w in split_words(text[2:4], gap=2.0)] == [["c", "d"]]


def test_a_cutter_splits_words_at_the_indices_it_names():
    """`cut` names where a new word starts inside one word (e.g. service.gateway.glued_words)."""
    glued = _chars([("a", 1, 2), ("b", 3, 4), ("c", 8, 9), ("d", 10, 11), (" ", 12, 13), ("e", 14, 16)])
    words = word_boxes(LINE, glued, FRAME, cut=lambda word: [2] if len(word) == 4 else [])
    assert [w.text for w in words] == ["ab", "cd", "e"]
    # each piece spans its own characters: "ab" ends where "cd" starts, both inside the line
    assert words[0].box[1, 0] == pytest.approx(45.0) and words[1].box[0, 0] == pytest.approx(65.0)
    # indices outside the word, repeats and 0 are ignored
    assert [len(w) for w in split_words(glued, cut=lambda word: [0, 2, 2, 9])] == [2, 2, 1]
    assert [len(w) for w in split_words(glued)] == [4, 1]
