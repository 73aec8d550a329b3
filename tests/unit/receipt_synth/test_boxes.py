"""The annotated boxes sit on the text of the final photo, also after rotation and perspective."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from service.receipt_synth import synth_receipt
from service.receipt_synth.content import make_receipt
from service.receipt_synth.labels import IGNORE
from service.receipt_synth.layout import layout_receipt
from service.receipt_synth.photo import photograph
from service.receipt_synth.render import render_paper

SEED, N = 3, 14


def staged(seed: int, index: int):
    """synth_receipt's steps, keeping the flat paper and the homography."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    paper, paper_boxes = render_paper(layout_receipt(make_receipt(rng), rng), rng)
    photo, boxes, hom = photograph(paper, paper_boxes, rng)
    return paper, paper_boxes, photo, boxes, hom


@pytest.fixture(scope="module")
def samples():
    return [staged(SEED, i) for i in range(N)]


def _pixels(gray: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mask = np.zeros(gray.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(quad).astype(np.int32)], 1)
    ys, xs = np.nonzero(mask)
    return gray[ys, xs].astype(np.float32), np.stack([xs, ys], 1).astype(np.float64)


def _inkiness(gray: np.ndarray) -> np.ndarray:
    """How much darker each pixel is than the paper around it (a max filter wider than strokes),
    so uneven light does not move the ink threshold."""
    return cv2.dilate(gray, np.ones((15, 15), np.uint8)).astype(np.float32) - gray


def _ink_centroid(ink: np.ndarray, quad: np.ndarray) -> np.ndarray:
    values, points = _pixels(ink, quad)
    return points[values > 0.5 * values.max()].mean(0)


def test_staged_steps_are_the_generator(samples):
    assert np.array_equal(samples[0][2], synth_receipt(SEED, 0)[0])


def test_every_box_of_the_photo_covers_dark_ink_on_light_paper(samples):
    for _, _, photo, boxes, _ in samples:
        gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
        for b in boxes:
            values, _ = _pixels(gray, b.quad)
            contrast = np.percentile(values, 95) - np.percentile(values, 3)
            # faded (Ignore) print is light by design; real text is crisp
            assert contrast > (15 if b.label == IGNORE else 40), (b.text, contrast)


def test_warped_boxes_follow_the_warped_ink(samples):
    tilts = []
    for paper, paper_boxes, photo, boxes, hom in samples:
        ink_paper = _inkiness(cv2.cvtColor(paper, cv2.COLOR_RGB2GRAY))
        ink_photo = _inkiness(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
        for pb, b in zip(paper_boxes, boxes):
            expected = cv2.perspectiveTransform(_ink_centroid(ink_paper, pb.quad).reshape(1, 1, 2), hom)[0, 0]
            found = _ink_centroid(ink_photo, b.quad)
            height, width = np.linalg.norm(b.quad[3] - b.quad[0]), np.linalg.norm(b.quad[1] - b.quad[0])
            along = (b.quad[1] - b.quad[0]) / width
            err_along = abs((found - expected) @ along)
            err_across = abs((found - expected) @ np.array([-along[1], along[0]]))
            assert err_across < 0.25 * height, b.text
            # perspective does not map a centroid to a centroid: long runs get some slack along
            assert err_along < 0.25 * height + 0.05 * width, b.text
            top = b.quad[1] - b.quad[0]
            tilts.append(abs(np.degrees(np.arctan2(top[1], top[0]))))
    assert max(tilts) > 2.0  # the sample does contain rotated receipts


def test_boxes_are_clockwise_from_top_left(samples):
    for _, _, _, boxes, _ in samples:
        for b in boxes:
            q = b.quad
            # shoelace area > 0 in image coordinates (y down) = clockwise on screen
            area = 0.5 * np.sum(q[:, 0] * np.roll(q[:, 1], -1) - np.roll(q[:, 0], -1) * q[:, 1])
            assert area > 0
            assert q[0].sum() <= q[2].sum()  # starts at the top-left corner


def test_ignore_boxes_have_empty_text_like_wildreceipt(samples):
    labels_texts = [(b.label, b.text) for *_, boxes, _ in samples for b in boxes]
    assert all(text == "" for label, text in labels_texts if label == IGNORE)
    assert all(text for label, text in labels_texts if label != IGNORE)
