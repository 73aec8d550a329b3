"""bench/det_ic15_split.py: the training lists of the photo models never hold a dev photo or a held-out one."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.det_ic15_split import main
from bench.scene_text_levers import samples
from tests.conftest import data_path


def _names(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split()


def test_test_share_trains_on_part_of_test_and_holds_the_rest_out(tmp_path):
    root = data_path("icdar2015_train")
    val = [p.name for p, _ in samples(root, "val", 13, 10 ** 6)]
    test = [p.name for p, _ in samples(root, "test", 13, 10 ** 6)]
    assert main(["--data", str(root), "--out", str(tmp_path / "plain")]) == 0
    assert main(["--data", str(root), "--out", str(tmp_path / "more"), "--test-share", "0.5"]) == 0
    plain, more = tmp_path / "plain", tmp_path / "more"

    assert _names(plain / "dev.txt") == val[:100] and _names(plain / "train.txt") == val[100:]
    assert not (plain / "test_held.txt").exists()  # without --test-share, part test is all held out
    trained, held = _names(more / "test_train.txt"), _names(more / "test_held.txt")
    assert sorted(trained + held) == sorted(test) and not set(trained) & set(held)
    assert 0.4 < len(trained) / len(test) < 0.6
    assert _names(more / "train.txt") == val[100:] + trained
    assert _names(more / "dev.txt") == val[:100]
    assert not set(_names(more / "train.txt")) & (set(held) | set(val[:100]))


def test_a_share_that_leaves_nothing_held_out_is_refused(tmp_path, capsys):
    root = data_path("icdar2015_train")
    with pytest.raises(SystemExit) as refused:
        main(["--data", str(root), "--out", str(tmp_path), "--test-share", "1"])
    assert refused.value.code == 2 and "some of part test stays held out" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
