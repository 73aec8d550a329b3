"""Image lists for fine-tuning a detector on ICDAR 2015 training photos (`ocrserve train det --list`).

The split is bench/scene_text_levers.py's (sha1 of the name, seed 13): its part `test` is never
trained or tuned on. Of its part `val`, the first `--dev` photos in file order (exactly what
`scene_text_levers.py --part val --n DEV` evaluates) are kept out of training as the dev set for
choosing checkpoints and thresholds; the rest are the training photos.

    .venv/bin/python bench/det_ic15_split.py --out /tmp/ic15_lists   # writes train.txt, dev.txt
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scene_text_levers import DATA, samples  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--dev", type=int, default=100)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    val = [path.name for path, _ in samples(args.data, "val", args.seed, 10 ** 6)]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dev.txt").write_text("".join(n + "\n" for n in val[:args.dev]), encoding="utf-8")
    (args.out / "train.txt").write_text("".join(n + "\n" for n in val[args.dev:]), encoding="utf-8")
    print(f"{len(val)} photos in part val: {min(args.dev, len(val))} dev, {max(len(val) - args.dev, 0)} train -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
