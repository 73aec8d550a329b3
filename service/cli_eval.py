"""`ocrserve eval`: accuracy of a detector/recogniser pair on the shared ICDAR-2015-format data."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from service.zoo import REPO_ROOT

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
#: Tesseract's test pages scored by character error rate (README's table), under tesseract/testing/.
DOCUMENTS = ("phototest", "eurotext")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `eval` (and `bench`) on the main parser."""
    ev = sub.add_parser("eval", help="detection hmean, word spotting F, word accuracy, 1-N.E.D")
    ev.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    ev.add_argument("--url", default=None, help="evaluate a running gateway instead of in-process")
    ev.add_argument("--det", default="default")
    ev.add_argument("--rec", default="default")
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    ev.set_defaults(func=run_eval)


def _document_pages(data: Path) -> list[tuple[Path, str]]:
    """(page image, its ground-truth text) of each of DOCUMENTS present in the data folder."""
    folder = data / "tesseract" / "testing"
    pairs = [(folder / f"{name}.tif", folder / f"{name}.txt") for name in DOCUMENTS]
    return [(image, truth.read_text(encoding="utf-8")) for image, truth in pairs if image.is_file() and truth.is_file()]


def run_eval(args: argparse.Namespace) -> int:
    from service.clients import local_ocr, recognizer_from, remote_ocr
    from service.datasets import load_icdar2015_dir, load_word_crops
    from service.evaluation import evaluate_documents, evaluate_end_to_end, evaluate_recognition, format_report

    det_root = args.data / "mmocr" / "0.x" / "toy_dataset"
    rec_root = args.data / "mmocr" / "0.x" / "ocr_toy_dataset"
    if not det_root.is_dir():
        print(f"eval: no data at {det_root}", file=sys.stderr)
        return 2
    from ocrserve.progress import Progress

    ocr = remote_ocr(args.url) if args.url else local_ocr()
    samples = load_icdar2015_dir(det_root)
    pages = _document_pages(args.data)
    progress = Progress(len(samples) + len(pages), "eval", bar=None)

    def e2e(data: bytes) -> dict:
        answer = ocr(data, det=args.det, rec=args.rec)
        progress.step()
        return answer

    with progress:
        end_to_end = evaluate_end_to_end(samples, e2e)
        report = {"images": end_to_end.pop("images"), **end_to_end}
        report["recognition"] = evaluate_recognition(load_word_crops(rec_root), recognizer_from(ocr, args.rec))
        if pages:
            report["documents"] = evaluate_documents(pages, e2e)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
