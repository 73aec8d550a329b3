"""Write the fixed, seeded splits of the real receipt data for SDMG-R training and evaluation.

* WildReceipt (`../shared/data/wildreceipt_subset`): by sha1 of the file name and the seed,
  70 % train, 10 % val (epoch / recipe choice), 20 % test (held out: only reported);
* SROIE 2019 (`../shared/data/sroie2019_train`), lines mapped onto WildReceipt classes by
  `service.tooling.training.kie.real_data` (unmatched lines unlabelled): the receipts WITH an image are
  all held out (`sroie_test.txt`, the end-to-end `/ocr?kie=` check of bench/kie_real_receipts.py);
  the others 85 % train, 15 % val.

Out: `train.txt` (WildReceipt train + SROIE train), `wild_{train,val,test}.txt`,
`sroie_{train,val,test}.txt`, `class_list.txt`; file names are absolute. Prints counts + sha256.

    .venv/bin/python bench/kie_prepare_real.py --out /tmp/kie_real [--seed 13]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from service.tooling.training.kie.real_data import split_of, sroie_record  # noqa: E402

DATA = REPO.parent / "shared" / "data"
WILD_SPLIT = (("train", 0.7), ("val", 0.1), ("test", 0.2))
SROIE_SPLIT = (("train", 0.85), ("val", 0.15))


def wild_records(root: Path, seed: int) -> dict[str, list[dict]]:
    parts: dict[str, list[dict]] = {p: [] for p, _ in WILD_SPLIT}
    for line in (root / "annotations.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        part = split_of(rec["file_name"], seed, WILD_SPLIT)
        rec["file_name"] = str(root / rec["file_name"])
        parts[part].append(rec)
    return parts


def sroie_records(root: Path, seed: int) -> dict[str, list[dict]]:
    parts: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    for key in sorted((root / "key").glob("*.json")):
        image = root / "img" / f"{key.stem}.jpg"
        rec = sroie_record(root / "box" / f"{key.stem}.csv", key, image)
        if rec is None:
            continue
        part = "test" if image.is_file() else split_of(key.stem, seed, SROIE_SPLIT)
        parts[part].append(rec)
    return parts


def write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    boxes = sum(len(r["annotations"]) for r in records)
    print(f"{path.name:<16} {len(records):4d} receipts {boxes:6d} boxes  sha256 {digest}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    wild_root, sroie_root = args.data / "wildreceipt_subset", args.data / "sroie2019_train"
    if not (wild_root / "annotations.txt").is_file() or not (sroie_root / "key").is_dir():
        print(f"no WildReceipt subset / SROIE under {args.data}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    wild, sroie = wild_records(wild_root, args.seed), sroie_records(sroie_root, args.seed)
    for name, parts in (("wild", wild), ("sroie", sroie)):
        for part, records in parts.items():
            write(args.out / f"{name}_{part}.txt", records)
    write(args.out / "train.txt", wild["train"] + sroie["train"])
    shutil.copy(REPO / "model_store" / "weights" / "sdmgr-receipts" / "class_list.txt", args.out / "class_list.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
