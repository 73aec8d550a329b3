"""Image lists for fine-tuning a detector on ICDAR 2015 training photos (`ocrserve train det --list`).

The split is bench/scene_text_levers.py's (sha1 of the name, seed 13): its part `test` is never
trained or tuned on. Of its part `val`, the first `--dev` photos in file order (exactly what
`scene_text_levers.py --part val --n DEV` evaluates) are kept out of training as the dev set for
choosing checkpoints and thresholds; the rest are the training photos.

`--test-share S` also trains on a share S of part `test`, drawn by sha1 of `<test seed>:<name>`
(`test_train.txt`, added to train.txt); the rest of part `test` (`test_held.txt`) stays held out,
and `scene_text_levers.py --part test --list test_held.txt` scores only those photos.

    .venv/bin/python bench/det_ic15_split.py --out /tmp/ic15_lists   # writes train.txt, dev.txt
    .venv/bin/python bench/det_ic15_split.py --out /tmp/ic15_more --test-share 0.5   # + test_train.txt, test_held.txt
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scene_text_levers import DATA, samples  # noqa: E402

from service.tooling.training.kie.real_data import split_of  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--dev", type=int, default=100)
    parser.add_argument("--test-share", type=float, default=0.0,
                        help="share of part test to train on too (0: none, the default)")
    parser.add_argument("--test-seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not 0.0 <= args.test_share < 1.0:
        parser.error("--test-share must be in [0, 1): some of part test stays held out")
    val = [path.name for path, _ in samples(args.data, "val", args.seed, 10 ** 6)]
    test = [path.name for path, _ in samples(args.data, "test", args.seed, 10 ** 6)]
    halves = (("train", args.test_share), ("held", 1.0 - args.test_share))
    test_train = [n for n in test if split_of(n, args.test_seed, halves) == "train"]
    trained = set(test_train)
    test_held = [n for n in test if n not in trained]
    args.out.mkdir(parents=True, exist_ok=True)
    lists = {"dev.txt": val[:args.dev], "train.txt": val[args.dev:] + test_train}
    if args.test_share:
        lists |= {"test_train.txt": test_train, "test_held.txt": test_held}
    for name, photos in lists.items():
        (args.out / name).write_text("".join(n + "\n" for n in photos), encoding="utf-8")
    print(f"{len(val)} photos in part val: {min(args.dev, len(val))} dev, {max(len(val) - args.dev, 0)} train; "
          f"{len(test_train)} of {len(test)} in part test trained on -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
