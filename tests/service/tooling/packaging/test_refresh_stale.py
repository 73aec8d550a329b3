"""`ocrserve run` rebuilds archives that carry another version of the handler code."""

import pytest

from service.gateway.zoo import load_zoo
from service.tooling.packaging.archive import build_archive, refresh_stale
from service.tooling.packaging.weights import WeightError, weight_path


@pytest.fixture(scope="module")
def entry():
    entry = load_zoo().get("text-direction")  # the smallest default: a few hundred KB of weights
    try:
        weight_path(entry)
    except WeightError as exc:
        pytest.skip(str(exc))
    return entry


def test_stale_archive_is_rebuilt_and_current_one_kept(entry, tmp_path):
    mar = build_archive(entry, tmp_path)
    stamp = tmp_path / f".{entry.name}.fingerprint"
    built = mar.stat().st_mtime_ns

    assert refresh_stale([entry], tmp_path) == []  # current: nothing to do
    assert mar.stat().st_mtime_ns == built

    current = stamp.read_text()
    stamp.write_text("0" * 64)  # as if built by an older checkout
    assert refresh_stale([entry], tmp_path) == [entry.name]
    assert mar.stat().st_mtime_ns != built
    assert stamp.read_text() == current


def test_archive_without_stamp_is_left_alone(entry, tmp_path):
    mar = tmp_path / f"{entry.name}.mar"
    mar.write_bytes(b"built some other way")
    assert refresh_stale([entry], tmp_path) == []
    assert mar.read_bytes() == b"built some other way"
