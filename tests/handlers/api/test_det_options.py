"""Detector option bounds are defined once: the /ocr schema and the worker refuse the same values."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from handlers.api.det_options import DET_OPTION_BOUNDS, parse_det_options
from handlers.api.errors import BadOptions
from handlers.detection import DetectionHandler
from service.gateway.routes.ocr import DET_OPTIONS, OcrOptions


@pytest.mark.parametrize("name", sorted(DET_OPTION_BOUNDS))
def test_gateway_and_worker_share_each_bound(name):
    bound = DET_OPTION_BOUNDS[name]
    step = 1 if bound.integer else 0.01
    for value in (bound.low, bound.high):  # the edges are allowed on both sides
        assert getattr(OcrOptions(**{name: value}), name) == value
        assert parse_det_options({name: value}) == {name: value}
    for value in (bound.low - step, bound.high + step):  # one step beyond is refused on both
        with pytest.raises(ValidationError):
            OcrOptions(**{name: value})
        with pytest.raises(BadOptions, match=name):
            parse_det_options({name: value})


def test_both_sides_know_the_same_option_names():
    assert set(DET_OPTIONS) == set(DET_OPTION_BOUNDS) <= DetectionHandler.option_names
