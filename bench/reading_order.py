"""Reading-order CER: generated multi-column pages and the real pages in ../shared/data.

    PYTHONPATH=$PWD .venv/bin/python bench/reading_order.py [--pages 6] [--receipts 32] [--url URL]

For each page the OCR output is scored three ways against the known text, whitespace collapsed:
`layout` (the page `text`, service/gateway/layout.py), `row sort` (the same lines in the old order: top to
bottom with a 10 px row tolerance) and, on generated pages, `by column` (each known region -
title, table, every column, footer - cropped and read on its own, texts joined in reading
order: the best a reading order can do with this recogniser). Receipts are also scored on their
annotated boxes alone (no OCR): the order of the ground-truth lines, layout vs row sort.
Generated pages come from service/tooling/synth/pages.py with seeds 0..N-1 (half 2 columns, half 3);
`--scanned` skews (up to 0.8 degrees), blurs and JPEG-compresses them first.
"""
from __future__ import annotations

import argparse
import io
import random
import sys
import time
from pathlib import Path

from PIL import Image, ImageFilter
from rapidfuzz.distance import Levenshtein

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.tooling.evaluation.clients import local_ocr, remote_ocr  # noqa: E402
from service.gateway.layout import reading_order, row_sort  # noqa: E402
from service.tooling.synth.pages import make_page  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def norm(text: str) -> str:
    return " ".join(text.split())


class Score:
    """Edit distance and truth length summed over pages: a character error rate per method."""

    def __init__(self) -> None:
        self.errors: dict[str, int] = {}
        self.chars = 0

    def add(self, truth: str, **reads: str) -> dict[str, float]:
        truth = norm(truth)
        self.chars += len(truth)
        out = {}
        for name, read in reads.items():
            d = Levenshtein.distance(norm(read), truth)
            self.errors[name] = self.errors.get(name, 0) + d
            out[name] = d / max(len(truth), 1)
        return out

    def rates(self) -> dict[str, float]:
        return {name: e / max(self.chars, 1) for name, e in self.errors.items()}


def png(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def row_sorted_text(page: dict) -> str:
    lines = page["result"]
    rows = row_sort([ln["box"] + [i] for i, ln in enumerate(lines)])
    return " ".join(lines[int(r[-1])]["text"] for r in rows)


def scanned(image: Image.Image, seed: int) -> Image.Image:
    """A scan's faults: skew of up to 0.8 degrees, blur, JPEG at quality 60."""
    angle = random.Random(seed).uniform(-0.8, 0.8)
    image = image.rotate(angle, resample=Image.BICUBIC, fillcolor=(255, 255, 255))
    buf = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(0.8)).save(buf, "JPEG", quality=60)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def generated(ocr, n_pages: int, degrade: bool) -> Score:
    score = Score()
    for seed in range(n_pages):
        columns = 2 if seed % 2 == 0 else 3
        synth = make_page(seed, columns)
        if degrade:
            synth.image = scanned(synth.image, seed)
        page = ocr(png(synth.image))["pages"][0]
        by_column = [ocr(png(synth.image.crop(box)))["pages"][0]["text"] for box, _ in synth.regions]
        got = score.add(synth.text, layout=page["text"], row_sort=row_sorted_text(page),
                        by_column="\n".join(by_column))
        print(f"  generated seed {seed} ({columns} columns): " + ", ".join(f"{k} {v:.4f}" for k, v in got.items()),
              flush=True)
    return score


def real_pages(ocr, receipts: int) -> tuple[Score, Score]:
    pages = Score()
    for name in ("phototest", "eurotext"):
        folder = DATA / "tesseract" / "testing"
        page = ocr((folder / f"{name}.tif").read_bytes())["pages"][0]
        got = pages.add((folder / f"{name}.txt").read_text(), layout=page["text"], row_sort=row_sorted_text(page))
        print(f"  {name}: " + ", ".join(f"{k} {v:.4f}" for k, v in got.items()), flush=True)
    shelf = Score()
    for image in sorted((DATA / "sroie2019_train" / "img").glob("*.jpg"))[:receipts]:
        truth = [ln.split(",", 8)[8] for ln in sroie_rows(image.stem)]
        page = ocr(image.read_bytes())["pages"][0]
        shelf.add("\n".join(truth), layout=page["text"], row_sort=row_sorted_text(page))
    return pages, shelf


def sroie_rows(stem: str) -> list[str]:
    path = DATA / "sroie2019_train" / "box" / f"{stem}.csv"
    return [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.count(",") >= 8]


def receipt_geometry() -> Score:
    """Order of the annotated lines of every SROIE receipt, from their boxes alone (shuffled)."""
    score = Score()
    for path in sorted((DATA / "sroie2019_train" / "box").glob("*.csv")):
        lines = [(list(map(float, ln.split(",", 8)[:8])), ln.split(",", 8)[8]) for ln in sroie_rows(path.stem)]
        if not lines:
            continue
        shuffled = list(lines)
        random.Random(0).shuffle(shuffled)
        order = reading_order([box for box, _ in shuffled])
        rows = row_sort([box + [i] for i, (box, _) in enumerate(shuffled)])
        score.add(" ".join(t for _, t in lines), layout=" ".join(shuffled[i][1] for i in order),
                  row_sort=" ".join(shuffled[int(r[-1])][1] for r in rows))
    return score


def report(title: str, score: Score) -> None:
    print(f"{title}: " + ", ".join(f"{k} CER {v:.4f}" for k, v in score.rates().items()) + f" ({score.chars} chars)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=6, help="generated pages (half 2, half 3 columns)")
    parser.add_argument("--receipts", type=int, default=32, help="SROIE receipt images to read")
    parser.add_argument("--url", help="a running gateway (default: the pipeline in this process)")
    parser.add_argument("--scanned", action="store_true", help="generated pages skewed, blurred, JPEG-compressed")
    args = parser.parse_args()
    ocr = remote_ocr(args.url) if args.url else local_ocr()
    start = time.perf_counter()
    report("receipt boxes, no OCR (all SROIE annotations)", receipt_geometry())
    report("generated pages" + (" (scanned)" if args.scanned else ""), generated(ocr, args.pages, args.scanned))
    pages, receipts = real_pages(ocr, args.receipts)
    report("tesseract phototest + eurotext", pages)
    report(f"SROIE receipts ({args.receipts} images)", receipts)
    print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
