"""``python -m service.tooling.synth.receipts --out DIR --count N --seed S``"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import generate


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and write the receipts."""
    p = argparse.ArgumentParser(prog="python -m service.tooling.synth.receipts",
                                description="Write synthetic receipts in WildReceipt format.")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--count", type=int, default=100, help="number of receipts")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    p.add_argument("--workers", type=int, default=1, help="processes (the output does not depend on it)")
    args = p.parse_args(argv)
    start = time.perf_counter()
    path = generate(args.out, args.count, args.seed, workers=args.workers)
    took = time.perf_counter() - start
    print(f"wrote {args.count} receipts to {path} in {took:.1f} s ({args.count / max(took, 1e-9):.1f}/s)")


if __name__ == "__main__":
    main()
