"""handlers/ops/vertex_order.py: one vertex convention for every detector's boundary_result."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from handlers.api.results import Detection, detections_json
from handlers.detection import DetectionHandler
from handlers.ops.vertex_order import clockwise_from_top_left

TL, TR, BR, BL = (10, 20), (110, 25), (108, 60), (8, 55)


@pytest.mark.parametrize("start", range(4))
@pytest.mark.parametrize("reverse", [False, True])
def test_any_start_and_direction_of_a_quad_becomes_tl_tr_br_bl(start, reverse):
    quad = np.array([TL, TR, BR, BL], np.float32)
    given = np.roll(quad[::-1] if reverse else quad, start, axis=0)
    assert clockwise_from_top_left(given).tolist() == quad.tolist()


def test_opencv_box_points_start_elsewhere_and_are_reordered():
    # what MMOCR's quad detectors return: cv2.boxPoints of a min-area rectangle
    rect = cv2.minAreaRect(np.array([TL, TR, BR, BL], np.float32))
    box = cv2.boxPoints(rect)
    ordered = clockwise_from_top_left(box)
    assert sorted(map(tuple, ordered.tolist())) == sorted(map(tuple, box.tolist()))  # same vertices
    assert ordered[0].sum() == ordered.sum(axis=1).min() and ordered[1][0] > ordered[0][0]
    assert ordered[2][1] > ordered[1][1]  # TR -> BR goes down: clockwise on screen


def test_a_contour_runs_clockwise_from_its_top_left_vertex():
    top = [(x, 10 + 0.05 * x) for x in range(0, 201, 50)]
    bottom = [(x, 40 + 0.05 * x) for x in range(200, -1, -50)]
    contour = np.array(top + bottom, np.float32)  # clockwise from the top-left already
    counter = np.roll(contour[::-1], 3, axis=0)  # counter-clockwise, from somewhere else
    assert clockwise_from_top_left(counter).tolist() == contour.tolist()


def test_the_detection_handler_applies_it_to_every_detector():
    box = cv2.boxPoints(cv2.minAreaRect(np.array([TL, TR, BR, BL], np.float32)))
    handler = DetectionHandler()
    handler.model = lambda image, options: [Detection(box, 0.9)]  # any detector's raw output
    rows = detections_json(handler.detect(np.zeros((8, 8, 3), np.uint8), {}))["boundary_result"]
    assert rows[0][:2] == [round(float(v), 1) for v in clockwise_from_top_left(box)[0]] and rows[0][-1] == 0.9
