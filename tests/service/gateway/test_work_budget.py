"""The recognition budget of a page (service/gateway/work_budget.py)."""
from __future__ import annotations

import pytest

from service.gateway.errors import PayloadTooLarge
from service.gateway.work_budget import check_recognition_budget, line_columns, page_columns


def test_a_crop_costs_its_width_at_the_line_height_capped_at_the_widest_input():
    assert line_columns(300, 30) == 480  # a word 10 times as wide as high: 10 x 48
    assert line_columns(31, 30) == 50  # rounded up
    assert line_columns(2915, 25) == 3200  # a page-high column of dashes, turned: squashed to the cap
    assert line_columns(5, 0) == 240  # a degenerate crop never divides by zero
    assert page_columns([(30, 300, 3), (25, 2915)]) == 3680


def test_the_budget_grows_with_the_file_and_refuses_past_it_with_a_clear_message():
    check_recognition_budget(60_000, 0, base=60_000, per_byte=4)  # the base, whatever the size
    check_recognition_budget(100_000, 10_000, base=60_000, per_byte=4)  # 60,000 + 40,000
    with pytest.raises(PayloadTooLarge, match=r"100,001 recogniser columns .* 100,000 allowed for a 10,000-byte"):
        check_recognition_budget(100_001, 10_000, base=60_000, per_byte=4)
    # The page of dashes (71 lines at the cap, 15 KB) against the defaults; real pages spend under
    # 0.3 columns per byte (phototest.tif: 5,618 columns for 38,668 bytes).
    with pytest.raises(PayloadTooLarge):
        check_recognition_budget(71 * 3200, 15_007, base=60_000, per_byte=4)
    check_recognition_budget(5_618, 38_668, base=0, per_byte=4)
