"""Tesseract beside the default pair, on clean document pages, scanned receipts and scene photos.

Every pairing runs the gateway's pipeline in-process (LocalBackend, one thread, no direction
classifier) over the same images:

* pages: Tesseract's own test pages with full-text ground truth (phototest, phototest_2, eurotext;
  English traineddata only, so eurotext's accents count against everyone alike);
* receipts: the first N SROIE 2019 training receipts that have images (line GT, upper case);
* photos: the first N ICDAR 2015 training photos (word GT; `###` regions left out).

Figures per set and pairing (photos without a legible word are left out of the first two): bag-of-words F1 (case-insensitive, every predicted word against every
GT word, as multisets), 1-N.E.D of the page text (lines joined by spaces, lower-case), and for the
photos ICDAR 2015 word spotting (service.tooling.evaluation.metrics.word_spotting on the word boxes); seconds/image.

    .venv/bin/python bench/bench_tesseract.py [--receipts 8] [--photos 10]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rapidfuzz.distance import Levenshtein  # noqa: E402

from service.tooling.local_backend import LocalBackend  # noqa: E402
from service.tooling.evaluation.datasets import read_icdar2015_gt  # noqa: E402
from service.tooling.evaluation.metrics import E2ESample, word_spotting  # noqa: E402
from service.gateway.pipeline import OcrRequest, run_ocr  # noqa: E402
from service.gateway.zoo import load_zoo  # noqa: E402

DATA = REPO.parent / "shared" / "data"
PAIRS = (("dbnet", "ppocrv6-small-rec"), ("tesseract-det", "tesseract-rec"),
         ("tesseract-det", "ppocrv6-small-rec"), ("dbnet", "tesseract-rec"))
PAGES = (("phototest.tif", "phototest.txt"), ("phototest_2.tif", "phototest.gold.txt"),
         ("eurotext.tif", "eurotext.txt"))


def pages() -> list[tuple[Path, list[str], None]]:
    root = DATA / "tesseract" / "testing"
    return [(root / img, root.joinpath(gt).read_text(encoding="utf-8").split(), None) for img, gt in PAGES]


def receipts(n: int) -> list[tuple[Path, list[str], None]]:
    root = DATA / "sroie2019_train"
    out = []
    for image in sorted((root / "img").glob("*.jpg"))[:n]:
        lines = (root / "box" / f"{image.stem}.csv").read_text(encoding="utf-8", errors="replace").splitlines()
        out.append((image, [w for line in lines if line.strip() for w in line.split(",", 8)[-1].split()], None))
    return out


def photos(n: int) -> list[tuple[Path, list[str], list]]:
    root = DATA / "icdar2015_train"
    out = []
    for k in range(1, n + 1):
        gt = read_icdar2015_gt(root / "gt" / f"gt_img_{k}.txt")
        out.append((root / "images" / f"img_{k}.jpg", [w.text for w in gt if not w.ignored], gt))
    return out


def bag_f1(pred: list[str], gt: list[str]) -> float:
    p, g = Counter(w.lower() for w in pred), Counter(w.lower() for w in gt)
    hits = sum((p & g).values())
    return 2 * hits / (sum(p.values()) + sum(g.values())) if p or g else 1.0


def run_set(backend, items, det: str, rec: str) -> dict:
    f1s, neds, spots, seconds = [], [], [], 0.0
    for image, gt_words, gt_boxes in items:
        start = time.perf_counter()
        result = asyncio.run(run_ocr(backend, image.read_bytes(), OcrRequest(det=det, rec=rec), 80_000_000))
        seconds += time.perf_counter() - start
        lines = result["pages"][0]["result"]
        words = [w for line in lines for w in line.get("words", [])]
        pred = [w["text"] for w in words]
        if gt_words:  # a photo whose words are all `###` says nothing about reading
            f1s.append(bag_f1(pred, gt_words))
            neds.append(1 - Levenshtein.normalized_distance(" ".join(pred).lower(), " ".join(gt_words).lower()))
        if gt_boxes is not None:
            spots.append(E2ESample([w.polygon for w in gt_boxes], [w.text for w in gt_boxes],
                                   [w.ignored for w in gt_boxes], [w["box"] for w in words], pred))
    row = {"bag_f1": sum(f1s) / len(f1s), "1-ned": sum(neds) / len(neds), "s_per_image": seconds / len(items)}
    if spots:
        row["spotting_hmean"] = word_spotting(spots)["hmean"]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--receipts", type=int, default=8)
    parser.add_argument("--photos", type=int, default=10)
    args = parser.parse_args()
    zoo = load_zoo()
    if not all(zoo.get(name).installed() for name in ("tesseract-det", "tesseract-rec")):
        print("Tesseract is not installed: run scripts/setup_tesseract.sh", file=sys.stderr)
        return 2
    backend = LocalBackend(zoo, threads=1)
    sets = {"pages": pages(), "receipts": receipts(args.receipts), "photos": photos(args.photos)}
    print("| set (images) | det + rec | bag-of-words F1 | 1-N.E.D | word spotting hmean | s/image |")
    print("|---|---|---|---|---|---|")
    for name, items in sets.items():
        for det, rec in PAIRS if items else ():
            row = run_set(backend, items, det, rec)
            spot = f"{row['spotting_hmean']:.3f}" if "spotting_hmean" in row else "-"
            print(f"| {name} ({len(items)}) | {det} + {rec} | {row['bag_f1']:.3f} | {row['1-ned']:.3f} | {spot} "
                  f"| {row['s_per_image']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
