"""handlers/api/results.py: the typed results both sides share, and their wire form."""
from __future__ import annotations

import json

import numpy as np
import pytest

from handlers.api.results import (Detection, Entity, KIELabel, KIEPair, KIEResult, Orientation, Recognition,
                                  detections_from_json, detections_json, entities_from_json, entities_json)


def _over_the_wire(body):
    return json.loads(json.dumps(body))


def test_a_result_that_went_over_the_wire_equals_the_rounded_one():
    """The in-process and TorchServe paths see the same numbers: from_json(to_json(x)) == x.rounded()."""
    det = Detection(np.array([[10.04, 20.06], [30.0, 20.0], [30.0, 40.0], [10.0, 40.0]], np.float32), 0.9876543)
    (back,) = detections_from_json(_over_the_wire(detections_json([det])))
    want = det.rounded()
    assert np.array_equal(back.polygon, want.polygon) and back.polygon.dtype == np.float32
    assert back.score == want.score == 0.98765
    assert back.polygon[0].tolist() == pytest.approx([10.0, 20.1])

    read = Recognition("ab", 0.123456789, [("a", 0.012345, 0.1, 0.99999), ("b", 0.2, 0.3, 0.5)], 0.0123456)
    assert Recognition.from_json(_over_the_wire(read.to_json(positions=True))) == read.rounded()
    assert read.to_json() == {"text": "ab", "score": 0.12346}  # no positions unless asked

    turn = Orientation("180", 0.9999999, True)
    assert Orientation.from_json(_over_the_wire(turn.to_json())) == turn.rounded()

    kie = KIEResult([KIELabel("Store_name_key", 1, 0.7777777), KIELabel("Store_name_value", 2, 0.5)],
                    [KIEPair(0, 1, 0.6666666)])
    assert KIEResult.from_json(_over_the_wire(kie.to_json())) == kie.rounded()
    assert kie.to_json()["pairs"] == [{"from": 0, "to": 1, "score": 0.66667}]

    found = [[Entity("NAME", 0, 3, "Bob", 0.91234567)], []]
    assert entities_from_json(_over_the_wire(entities_json(found))) == [[found[0][0].rounded()], []]


def test_a_detection_row_must_be_a_polygon_and_a_score():
    with pytest.raises(ValueError, match="x1, y1, ..., xn, yn, score"):
        Detection.from_json([0, 0, 1, 0, 1, 1, 0, 1])  # no score
    with pytest.raises(ValueError):
        Detection.from_json([0, 0, 1, 0, 0.5])  # two points
    whole = Detection.whole_image(40, 30)
    assert whole.flat() == [0, 0, 40, 0, 40, 30, 0, 30] and whole.score == 1.0
