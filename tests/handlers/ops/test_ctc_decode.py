"""Tests for handlers.ops.ctc_decode with handmade probability arrays."""

from __future__ import annotations

import numpy as np
import pytest

from handlers.ops.ctc_decode import (DecodedChar, DecodedText, char_positions, ctc_best_path, ctc_greedy_decode,
                                     load_charset)

CHARSET = ["a", "b", "c", " "]  # classes: 0 blank, 1 a, 2 b, 3 c, 4 space


def _probs(frames: list[int], peak: float | list[float] = 0.9, num_classes: int = 5) -> np.ndarray:
    """(T, C) softmax-like rows whose argmax is `frames[t]` with prob `peak`."""
    peaks = [peak] * len(frames) if isinstance(peak, float) else peak
    rows = []
    for cls, p in zip(frames, peaks):
        row = np.full(num_classes, (1.0 - p) / (num_classes - 1), dtype=np.float32)
        row[cls] = p
        rows.append(row)
    return np.asarray(rows, dtype=np.float32).reshape(len(frames), num_classes)


def _decode_one(frames, peak=0.9, charset=CHARSET, blank=0) -> DecodedText:
    return ctc_greedy_decode(_probs(frames, peak, len(charset) + 1)[None], charset, blank)[0]


def test_collapses_repeats_and_drops_blanks():
    out = _decode_one([0, 1, 1, 0, 2, 2, 2, 3, 0])
    assert out.text == "abc"
    assert [(c.char, c.start, c.end) for c in out.chars] == [("a", 1, 3), ("b", 4, 7), ("c", 7, 8)]


def test_repeats_separated_by_blank_give_double_letters():
    assert _decode_one([1, 1, 0, 1, 0, 0, 1]).text == "aaa"
    assert _decode_one([1, 1, 1, 1]).text == "a"


def test_positions_and_probabilities():
    out = _decode_one([0, 2, 2, 0, 3], peak=[0.5, 0.6, 0.95, 0.7, 0.8])
    # The char prob is the one of the first frame of its run (PaddleOCR/MMOCR).
    assert out.chars == [
        DecodedChar("b", pytest.approx(0.6), 1, 3),
        DecodedChar("c", pytest.approx(0.8), 4, 5),
    ]
    assert out.score == pytest.approx(0.7)


def test_all_blank_gives_empty_text_with_zero_score():
    out = _decode_one([0, 0, 0, 0])
    assert out == DecodedText(text="", score=0.0, chars=[])


def test_zero_frames():
    probs = np.zeros((2, 0, 5), np.float32)
    assert [d.text for d in ctc_greedy_decode(probs, CHARSET)] == ["", ""]


def test_space_is_a_character_with_a_span():
    out = _decode_one([1, 0, 4, 4, 0, 2])
    assert out.text == "a b"
    assert out.chars[1] == DecodedChar(" ", pytest.approx(0.9), 2, 4)


def test_batch_rows_are_independent():
    batch = np.stack([_probs([1, 2, 0]), _probs([0, 0, 0]), _probs([3, 3, 4])])
    assert [d.text for d in ctc_greedy_decode(batch, CHARSET)] == ["ab", "", "c "]


def test_blank_as_last_class():
    charset = ["x", "y"]
    probs = _probs([0, 2, 1, 1, 2, 0], num_classes=3)[None]
    out = ctc_greedy_decode(probs, charset, blank=2)[0]
    assert out.text == "xyx"
    assert [(c.start, c.end) for c in out.chars] == [(0, 1), (2, 4), (5, 6)]


def test_class_count_must_match_charset():
    with pytest.raises(ValueError, match="classes"):
        ctc_greedy_decode(np.zeros((1, 3, 4), np.float32), CHARSET)
    with pytest.raises(ValueError):
        ctc_greedy_decode(np.zeros((3, 5), np.float32), CHARSET)
    with pytest.raises(ValueError):
        ctc_greedy_decode(np.zeros((1, 3, 5), np.float32), CHARSET, blank=5)


def test_load_charset_from_lines_and_file(tmp_path):
    assert load_charset(["a\n", "b\r\n", "€\n"]) == ["a", "b", "€", " "]
    assert load_charset(["a", "b"], use_space_char=False) == ["a", "b"]
    path = tmp_path / "dict.txt"
    path.write_text("0\n1\n \nz\n", encoding="utf-8")
    # A ' ' line is a symbol; PaddleOCR still appends its own trailing space class.
    assert load_charset(path) == ["0", "1", " ", "z", " "]
    assert load_charset(str(path), use_space_char=False) == ["0", "1", " ", "z"]


def test_decode_with_loaded_charset(tmp_path):
    path = tmp_path / "dict.txt"
    path.write_text("h\ni\n", encoding="utf-8")
    charset = load_charset(path)  # h, i, ' '
    out = ctc_greedy_decode(_probs([1, 0, 2, 3, 3, 1, 2], num_classes=4)[None], charset)[0]
    assert out.text == "hi hi"


def test_best_path_with_mmocr_layout_ignores_several_classes_and_reads_a_prefix():
    # MMOCR: blank = padding at the end, "<UKN>" ignored too; an ignored run still ends a run
    symbols = ["a", "b", "<UKN>", "<PAD>"]
    probs = _probs([0, 0, 2, 0, 3, 1, 1, 3, 0], num_classes=4)
    out = ctc_best_path(probs, symbols, ignore={2, 3})
    assert out.text == "aaba" and out.frames == 9
    assert [(c.start, c.end) for c in out.chars] == [(0, 2), (3, 4), (5, 7), (8, 9)]
    prefix = ctc_best_path(probs, symbols, ignore={2, 3}, length=6)  # valid_ratio cut: frames 0..5
    assert prefix.text == "aab" and prefix.chars[-1].end == 6 and prefix.frames == 9
    assert out.char_scores == [c.prob for c in out.chars]


def test_positions_are_frame_spans_times_the_frame_width_capped_at_the_crop():
    out = _decode_one([0, 1, 1, 0, 2, 2])
    assert char_positions(out, 0.25) == [("a", 0.25, 0.75, pytest.approx(0.9)), ("b", 1.0, 1.0, pytest.approx(0.9))]
