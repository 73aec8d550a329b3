"""`python -m bench.reliability`: run the suite against a fresh `ocrserve run`, print the summary."""
from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import psutil

from bench.reliability import corpus, parts
from bench.reliability.load import closed_loop
from bench.reliability.target import start
from service.gateway.zoo import load_zoo

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TOY = DATA / "mmocr" / "0.x" / "toy_dataset" / "imgs" / "test"


def _images() -> list[bytes]:
    photos = sorted(TOY.glob("img_*.jpg"))
    if not photos:
        sys.exit(f"reliability: needs the shared data at {DATA}")
    return [p.read_bytes() for p in photos] + [(DATA / "tesseract" / "testing" / "phototest.tif").read_bytes()]


def _table(rows: list[parts.Row]) -> str:
    lines = ["| part | figure | value | target | pass |", "|---|---|---|---|---|"]
    for r in rows:
        mark = "" if r.passed is None else ("yes" if r.passed else "**NO**")
        lines.append(f"| {r.part} | {r.figure} | {r.value} | {r.target} | {mark} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__)
    parser.add_argument("--soak-s", type=float, default=1200, help="soak duration (20 min)")
    parser.add_argument("--overload-s", type=float, default=60, help="open-loop overload duration")
    parser.add_argument("--slow-s", type=float, default=30, help="slow-client part duration")
    parser.add_argument("--fuzz-examples", type=int, default=50, help="schemathesis examples per operation")
    parser.add_argument("--parts", nargs="*", default=["corpus", "fuzz", "cost", "soak", "overload", "slow", "access",
                                                       "faults"])
    args = parser.parse_args(argv)
    images = _images()
    photo = cv2.imdecode(np.frombuffer(images[0], np.uint8), cv2.IMREAD_COLOR)
    sample = photo[200:330, 300:560, ::-1].copy()
    stall_s = 30.0  # the upstream timeout of the run: long enough for a loaded machine, short for the stall part
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ocrserve-reliability-") as tmp:
        target = start(Path(tmp), upstream_timeout_s=str(stall_s))
        rows: list[parts.Row] = []
        models = load_zoo().default_names()
        capacity = {"value": None}

        def soak() -> list[parts.Row]:
            soak_rows, capacity["value"] = parts.soak(target, images, args.soak_s)
            return soak_rows

        def overload() -> list[parts.Row]:
            if capacity["value"] is None:
                capacity["value"] = len(asyncio.run(closed_loop(target.url, images, 4, 30)).ok()) / 30
            return [parts.Row("overload", "capacity at 4 clients (req/s)", round(capacity["value"], 2), "", None),
                    *parts.backpressure(target, images, capacity["value"], args.overload_s)]

        steps = {"corpus": lambda: parts.malformed(target, corpus.cases(sample), images[0], models),
                 "fuzz": lambda: parts.schema_fuzz(target, args.fuzz_examples),
                 "cost": lambda: parts.cost(target, list(corpus.cost_cases(sample))),
                 "soak": soak, "overload": overload,
                 "slow": lambda: parts.slow_clients(target, images[0], seconds=args.slow_s),
                 "access": lambda: parts.access(target),
                 "faults": lambda: parts.faults(target, images, stall_s=stall_s)}
        try:
            for name in args.parts:  # faults last: they kill processes
                try:
                    part_rows = steps[name]()
                except Exception as exc:  # noqa: BLE001 - one broken part must not hide the others' figures
                    part_rows = [parts.Row(name, "part crashed", f"{type(exc).__name__}: {exc}"[:200], "", False)]
                print(_table(part_rows), flush=True)
                rows += part_rows
        finally:
            target.stop()
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\nocrserve reliability, {when}, {platform.node()}: {psutil.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB, load average {psutil.getloadavg()[0]:.1f} at the end; "
          f"{time.monotonic() - began:.0f} s\n")
    print(_table(rows))
    failed = [r for r in rows if r.passed is False]
    print(f"\n{len(failed)} of {sum(r.passed is not None for r in rows)} checks failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
