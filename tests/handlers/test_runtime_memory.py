"""ONNX Runtime's CPU arena gives back what one unusually large input made it grow."""
from __future__ import annotations

import numpy as np
import psutil

from handlers.runtime import OnnxRunner


def test_a_large_input_does_not_leave_the_arena_at_its_peak(zoo, weights_ready):
    from service.tooling.packaging.weights import weight_path

    runner = OnnxRunner(weight_path(zoo.get("dbnet")))
    process = psutil.Process()
    small = np.zeros((1, 3, 320, 320), np.float32)
    runner(small)
    before = process.memory_info().rss
    runner(np.zeros((1, 3, 2016, 2016), np.float32))  # 49 MB in; the arena grew ~500 MB for it
    runner(small)
    grown = (process.memory_info().rss - before) / 2**20
    assert grown < 200, f"RSS stayed {grown:.0f} MB up"
