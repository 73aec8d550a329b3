"""Image lists for `ocrserve train det --replay`: printed documents and receipts that no evaluation
uses, and the receipts for choosing a replay run's checkpoint.

* `replay.txt` (training): the WildReceipt receipts with an image in the `train` part of
  bench/kie_prepare_real.py's split (seed 13), and Tesseract's training pages `trainingtimes.tif`,
  `trainingital.tif` and `segmodeimg.tif` (../shared/data/tesseract/testing; read by no test or
  bench). Never: the WildReceipt val / test receipts, the SROIE receipts with an image, phototest
  (and its rotated copies) or eurotext, which are evaluation.
* `receipts_dev.txt` (choices only): the WildReceipt `val` receipts with an image.

    .venv/bin/python bench/det_replay_images.py --out /tmp/replay_lists
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kie_prepare_real import DATA, wild_records  # noqa: E402

PAGES = ("trainingtimes.tif", "trainingital.tif", "segmodeimg.tif")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    wild = args.data / "wildreceipt_subset"
    if not (wild / "annotations.txt").is_file():
        print(f"no WildReceipt subset under {args.data}", file=sys.stderr)
        return 2
    parts = wild_records(wild, args.seed)
    with_image = {p: [r["file_name"] for r in recs if Path(r["file_name"]).is_file()] for p, recs in parts.items()}
    pages = [str(args.data / "tesseract" / "testing" / n) for n in PAGES
             if (args.data / "tesseract" / "testing" / n).is_file()]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "replay.txt").write_text("".join(p + "\n" for p in with_image["train"] + pages), encoding="utf-8")
    (args.out / "receipts_dev.txt").write_text("".join(p + "\n" for p in with_image["val"]), encoding="utf-8")
    print(f"replay.txt: {len(with_image['train'])} WildReceipt train receipts + {len(pages)} pages; "
          f"receipts_dev.txt: {len(with_image['val'])} WildReceipt val receipts (test part, "
          f"{len(with_image['test'])} with an image, left out) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
