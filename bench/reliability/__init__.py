"""The reliability suite (issue 14): hostile input, soak, faults, overload, slow clients, access.

`python -m bench.reliability` starts its own `ocrserve run` on free loopback ports, runs every
part within its time bounds and prints one summary table; the fast parts are also tests
(tests/integration/test_reliability.py).
"""
