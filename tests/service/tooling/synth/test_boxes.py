"""The annotated boxes sit on the text of the final photo, also after rotation and perspective."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from service.tooling.synth.receipts import synth_receipt
from service.tooling.synth.receipts.content import make_receipt
from service.tooling.synth.receipts.labels import IGNORE
from service.tooling.synth.receipts.layout import layout_receipt
from service.tooling.synth.receipts.photo import photograph
from service.tooling.synth.receipts.render import render_paper

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
    """Values and (x, y) coordinates of the pixels inside ``quad``."""
    x0, y0 = np.floor(quad.min(0)).astype(int).clip(0)
    x1, y1 = np.ceil(quad.max(0)).astype(int) + 1
    crop = gray[y0:y1, x0:x1]
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(quad - [x0, y0]).astype(np.int32)], 1)
    ys, xs = np.nonzero(mask)
    return crop[ys, xs].astype(np.float32), np.stack([xs + x0, ys + y0], 1).astype(np.float64)


def _inkiness(gray: np.ndarray) -> np.ndarray:
    """How much darker each pixel is than the paper around it (a max filter wider than strokes),
    so uneven light does not move the ink threshold."""
    return cv2.dilate(gray, np.ones((15, 15), np.uint8)).astype(np.float32) - gray


def _ink_centroid(ink: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Ink-weighted centre (interpolation keeps the ink mass, unlike a threshold)."""
    values, points = _pixels(ink, quad)
    return (points * values[:, None]).sum(0) / values.sum()


def test_staged_steps_are_the_generator(samples):
    assert np.array_equal(samples[0][2], synth_receipt(SEED, 0)[0])


def test_every_box_of_the_photo_covers_dark_ink_on_light_paper(samples):
    for _, _, photo, boxes, _ in samples:
        # a light blur takes the sensor noise out (plain paper then spans < ~17 grey levels)
        gray = cv2.GaussianBlur(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY), (0, 0), 1.0)
        for b in boxes:
            values, _ = _pixels(gray, b.quad)
            contrast = np.percentile(values, 99) - np.percentile(values, 1)
            assert contrast > 22, (b.text, contrast)


def _warp(quad: np.ndarray, hom: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(quad.reshape(1, -1, 2).astype(np.float64), hom)[0]


def _clean_warp(paper: np.ndarray, hom: np.ndarray, shape) -> np.ndarray:
    """The paper warped by ``hom`` alone (no surface, light, noise or blur), grey."""
    gray = cv2.cvtColor(paper, cv2.COLOR_RGB2GRAY)
    return cv2.warpPerspective(gray, hom, (shape[1], shape[0]), flags=cv2.INTER_LINEAR, borderValue=255)


def test_the_returned_homography_is_the_one_the_photo_used(samples):
    for paper, _, photo, _, hom in samples:
        # compare ink maps, not grey levels: the photo's light and shadows are not in the paper
        clean = _inkiness(_clean_warp(paper, hom, photo.shape))
        on_paper = cv2.warpPerspective(np.ones(paper.shape[:2], np.uint8), hom, (photo.shape[1], photo.shape[0])) > 0
        on_paper = cv2.erode(on_paper.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0  # not the paper edge
        ink = _inkiness(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
        aligned = np.corrcoef(ink[on_paper], clean[on_paper])[0, 1]
        moved = np.roll(clean, 7, axis=0)  # 7 px off: the text no longer lines up (barcodes still do)
        assert aligned > 0.8 and aligned - np.corrcoef(ink[on_paper], moved[on_paper])[0, 1] > 0.3


def test_warped_boxes_follow_the_warped_ink(samples):
    tilts, checked = [], 0
    for paper, paper_boxes, photo, boxes, hom in samples:
        ink_paper = _inkiness(cv2.cvtColor(paper, cv2.COLOR_RGB2GRAY))
        # the ink as warped by the photo's homography, without the photo's light and noise
        ink_photo = _inkiness(_clean_warp(paper, hom, photo.shape))
        h, w = photo.shape[:2]
        for pb in paper_boxes:
            quad = _warp(pb.quad, hom)
            if quad.min() < 0 or (quad[:, 0] > w - 1).any() or (quad[:, 1] > h - 1).any():
                continue  # cut by the frame: see the next test
            [b] = [b for b in boxes if np.allclose(b.quad, quad)]
            assert (b.text, b.label) == (pb.text, pb.label)
            expected = _warp(_ink_centroid(ink_paper, pb.quad), hom)[0]
            found = _ink_centroid(ink_photo, b.quad)
            height, width = np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[1] - quad[0])
            along = (quad[1] - quad[0]) / width
            err_along = abs((found - expected) @ along)
            err_across = abs((found - expected) @ np.array([-along[1], along[0]]))
            assert err_across < 0.15 * height, b.text
            # perspective does not map a centroid to a centroid: long runs get some slack along
            assert err_along < 0.15 * height + 0.03 * width, b.text
            tilts.append(abs(np.degrees(np.arctan2(along[1], along[0]))))
            checked += 1
    assert checked > 20 * N
    assert max(tilts) > 2.0  # the sample does contain rotated receipts


def test_runs_cut_by_the_frame_become_ignore_boxes_inside_the_image():
    cut = 0
    for i in range(40):
        photo, boxes = synth_receipt(1, i)
        h, w = photo.shape[:2]
        for b in boxes:
            assert b.quad.min() >= 0 and (b.quad[:, 0] <= w - 1).all() and (b.quad[:, 1] <= h - 1).all()
            on_edge = b.quad[:, 1].min() == 0 or b.quad[:, 1].max() == h - 1
            if on_edge:
                assert (b.label, b.text) == (IGNORE, "")
                cut += 1
    assert cut > 0


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
