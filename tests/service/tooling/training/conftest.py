"""Fixtures of the training tests: a few real ICDAR 2015 training photos in their own folder."""
from __future__ import annotations

import shutil

import pytest

from tests.conftest import data_path


@pytest.fixture(scope="module")
def icdar_photos(tmp_path_factory, request):
    """A folder (images/, gt/) holding the photos named by the module's PHOTOS (stems, e.g. img_1)."""
    root = data_path("icdar2015_train")
    data = tmp_path_factory.mktemp("photos")
    (data / "images").mkdir()
    (data / "gt").mkdir()
    for stem in request.module.PHOTOS:
        shutil.copy(root / "images" / f"{stem}.jpg", data / "images")
        shutil.copy(root / "gt" / f"gt_{stem}.txt", data / "gt")
    return data
