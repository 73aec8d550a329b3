"""The one error hierarchy (handlers/api/errors.py): one JSON shape, read back as the same class."""
from __future__ import annotations

import pytest

from handlers.api import errors
from handlers.api.errors import ERRORS, BadImage, BadOptions, InternalError, OcrServeError, as_error, from_json
from handlers.ops.image_io import ImageDecodeError, ImageTooLargeError
from service.gateway import errors as gateway_errors


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_every_error_survives_its_json(name):
    error = ERRORS[name](f"{name} happened")
    back = from_json(error.to_json(), 500)
    assert type(back) is ERRORS[name] and back.status == error.status and back.message == error.message
    assert error.to_json() == {"error": name, "status": error.status, "message": f"{name} happened"}


def test_the_gateway_has_no_second_hierarchy():
    for name in dir(gateway_errors):
        value = getattr(gateway_errors, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert value is getattr(errors, name), name


def test_statuses_are_the_documented_ones():
    assert {c.status for c in (BadImage, BadOptions, InternalError)} == {400, 422, 500}
    assert errors.PayloadTooLarge.status == 413 and errors.ModelUnavailable.status == 503


def test_the_image_decoders_errors_travel_as_their_public_type():
    assert ImageDecodeError("x").to_json() == {"error": "BadImage", "status": 400, "message": "x"}
    assert ImageTooLargeError("y").to_json()["error"] == "PayloadTooLarge"
    assert isinstance(ImageDecodeError("x"), ValueError)  # old callers catching ValueError still do


def test_bodies_that_are_not_ours_are_left_alone():
    torchserve_own = {"code": 404, "type": "ModelNotFoundException", "message": "Model not found"}
    assert from_json(torchserve_own, 404) is None
    assert from_json({"error": "NoSuchError", "message": "m"}, 400) is None
    assert from_json("text", 400) is None


def test_as_error_keeps_ours_and_wraps_the_rest():
    ours = BadOptions("mask_thr=7 is outside [0, 1]")
    assert as_error(ours) is ours
    wrapped = as_error(KeyError("boom"))
    assert isinstance(wrapped, InternalError) and wrapped.status == 500 and "KeyError" in wrapped.message
    assert isinstance(wrapped, OcrServeError)
