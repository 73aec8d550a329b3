"""Pure parts of the model families: resize rule, option checks, batching plan."""
from __future__ import annotations

import numpy as np
import pytest

from handlers.predictors.ctc import CTCConfig, padded_width, plan_batches, resized_width
from handlers.api.det_options import parse_det_options as parse_options
from handlers.api.errors import BadOptions
from handlers.predictors.db import DBConfig, preprocess, target_size


@pytest.mark.parametrize("hw, expected", [
    ((720, 1280), (736, 1312)),   # short side scaled up to 736, both rounded to 32
    ((100, 300), (672, 2016)),    # ratio 7.36 would give 736 x 2208: capped so the long side is 2000
    ((3000, 1000), (2016, 672)),  # already over the limit: long side capped at 2000
    ((10, 10), (736, 736)),
])
def test_target_size_min_rule(hw, expected):
    new_h, new_w = target_size(*hw, DBConfig(limit_side_len=736, limit_type="min", max_side_len=2000))
    assert new_h % 32 == 0 and new_w % 32 == 0
    assert max(new_h, new_w) <= 2000 + 32
    assert abs(new_h - expected[0]) <= 32 and abs(new_w - expected[1]) <= 32


def test_target_size_max_rule_only_shrinks():
    cfg = DBConfig(limit_side_len=960, limit_type="max")
    assert target_size(480, 640, cfg) == (480, 640)
    assert target_size(1920, 1080, cfg) == (960, 544)


def test_preprocess_normalises_and_reports_scale():
    image = np.full((50, 100, 3), 255, np.uint8)
    tensor, (sx, sy) = preprocess(image, DBConfig(mean=(0.5,) * 3, std=(0.5,) * 3, limit_side_len=64))
    assert tensor.shape == (1, 3, 64, 128) and tensor.dtype == np.float32
    assert np.allclose(tensor, 1.0)
    assert sx == pytest.approx(128 / 100) and sy == pytest.approx(64 / 50)


@pytest.mark.parametrize("raw, message", [
    ({"mask_thr": "abc"}, "must be a number"),
    ({"mask_thr": 1.5}, "outside"),
    ({"limit_side_len": 1}, "outside"),
])
def test_parse_options_refuses_bad_values(raw, message):
    with pytest.raises(BadOptions, match=message):
        parse_options(raw)


def test_parse_options_ignores_unknown_and_casts():
    assert parse_options({"limit_side_len": "960", "other": "x"}) == {"limit_side_len": 960}


def test_db_config_refuses_unknown_keys():
    with pytest.raises(ValueError, match="unknown DB config keys"):
        DBConfig.from_dict({"thresh": 0.3})


def test_plan_batches_groups_crops_by_their_own_padded_width():
    cfg = CTCConfig(charset=("a",), max_batch=3, min_width=100, max_width=1000, width_multiple=8)
    assert [padded_width(w, cfg) for w in (1, 100, 104, 105, 500, 1000)] == [104, 104, 104, 112, 504, 1000]
    widths = [100, 900, 120, 140, 1000, 95, 400, 99, 98, 103, 119]
    batches = plan_batches(widths, cfg)
    assert sorted(i for b in batches for i in b) == list(range(len(widths)))
    for batch in batches:
        assert len(batch) <= 3 and len({padded_width(widths[i], cfg) for i in batch}) == 1
    assert batches == [[5, 8, 7], [0, 9], [10, 2], [3], [6], [1], [4]]  # narrowest first


def test_resized_width_keeps_ratio_and_caps():
    cfg = CTCConfig(charset=("a",), height=48, max_width=480)
    assert resized_width(np.zeros((24, 100, 3), np.uint8), cfg) == 200
    assert resized_width(np.zeros((10, 1000, 3), np.uint8), cfg) == 480
