"""Training lists of stage 5 (bench/RESULTS-kie-real.md): the WildReceipt learning curve and the
all-data model, built from the split of `bench/kie_prepare_real.py` (seed 13).

* `train_wild_half.txt`: half of `wild_train.txt` (the first ``ceil(n / 2)`` receipts ordered by
  sha1 of ``half:<seed>:<image file name>``: seeded, independent of the file's order) + `sroie_train.txt`;
* `train_all.txt`: every WildReceipt receipt (`wild_train` + `wild_val` + `wild_test`) + `sroie_train.txt`
  (`sroie_val.txt` and `sroie_test.txt` stay out: the all-data model's only held-out checks);
* with `--folds K`, a cross-validation of the all-data recipe: the 372 WildReceipt receipts ordered
  by sha1 of ``fold:<seed>:<image file name>``, receipt i in fold i mod K; `cv<k>_test.txt` is fold k,
  `cv<k>_train.txt` the other folds + `sroie_train.txt`.

Prints counts and sha256 of each list.

    .venv/bin/python bench/kie_learning_curve_lists.py --split /tmp/kie_real [--seed 13] [--folds 4]
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path


def read(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def rank(line: str, seed: int, salt: str = "half") -> str:
    name = Path(json.loads(line)["file_name"]).name
    return hashlib.sha1(f"{salt}:{seed}:{name}".encode()).hexdigest()


def write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    print(f"{path}  {len(lines)} receipts  sha256 {digest}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", type=Path, required=True, help="the --out folder of kie_prepare_real.py")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--folds", type=int, default=0, help="also write K cross-validation folds (cv<k>_*.txt)")
    args = parser.parse_args()
    parts = {p: read(args.split / f"{p}.txt") for p in ("wild_train", "wild_val", "wild_test", "sroie_train")}
    ordered = sorted(parts["wild_train"], key=lambda line: rank(line, args.seed))
    half = ordered[: (len(ordered) + 1) // 2]
    keep = set(half)
    half = [line for line in parts["wild_train"] if line in keep]  # the original order
    write(args.split / "wild_train_half.txt", half)
    write(args.split / "train_wild_half.txt", half + parts["sroie_train"])
    wild = parts["wild_train"] + parts["wild_val"] + parts["wild_test"]
    write(args.split / "train_all.txt", wild + parts["sroie_train"])
    ordered = sorted(wild, key=lambda line: rank(line, args.seed, "fold"))
    for k in range(args.folds):
        test = set(ordered[k::args.folds])
        write(args.split / f"cv{k}_test.txt", [line for line in wild if line in test])
        write(args.split / f"cv{k}_train.txt", [line for line in wild if line not in test] + parts["sroie_train"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
