"""Limits written once and used by every side: TorchServe's request cap and the megapixel default."""
from __future__ import annotations

import inspect

import pytest

from handlers.base import OcrHandler
from handlers.ops.image_io import DEFAULT_MAX_PIXELS, decode_image
from service.tooling.evaluation.clients import local_ocr
from service.tooling.launch.runner import torchserve_config
from service.gateway.settings import Settings
from service.tooling.launch.torchserve_process import max_request_mb

MB = 1024 * 1024


@pytest.mark.parametrize("upload, mib", [(20 * MB, 40), (5 * MB, 10), (5 * MB + 1, 11), (1024, 1)])
def test_torchserve_cap_is_twice_the_upload_limit_in_whole_mib(upload, mib):
    assert max_request_mb(upload) == mib


def test_ocrserve_run_uses_the_same_cap_as_the_container_renderer():
    config = torchserve_config(Settings(max_upload_bytes=5 * MB), ["dbnet"])
    assert config.max_request_mb == 10  # the old `ocrserve run` formula gave 64
    props = dict(line.split("=", 1) for line in config.properties().splitlines() if "=" in line)
    assert int(props["max_request_size"]) == int(props["max_response_size"]) == 10 * MB


def test_one_megapixel_default_for_gateway_workers_and_in_process_client():
    assert DEFAULT_MAX_PIXELS == 40_000_000
    assert Settings().max_pixels == DEFAULT_MAX_PIXELS
    assert OcrHandler().max_pixels == DEFAULT_MAX_PIXELS
    assert inspect.signature(decode_image).parameters["max_pixels"].default == DEFAULT_MAX_PIXELS
    ocr = local_ocr()  # models load on first use: nothing loads here
    assert inspect.signature(ocr).parameters["max_pixels"].default == DEFAULT_MAX_PIXELS
