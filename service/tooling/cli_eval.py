"""`ocrserve eval`: accuracy of a detector/recogniser pair on the shared ICDAR-2015-format data."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from service.gateway.zoo import REPO_ROOT

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
    # a user's own dataset in an MMOCR format (docs/datasets.md); without --format: the shared toy sets
    ev.add_argument("--format", default=None, help="icdar|coco|lines|textdet|labelme (det/e2e), label-txt|"
                    "label-jsonl|textrecog|lmdb (rec), wildreceipt|wildreceipt-openset (kie), cluener (ner)")
    ev.add_argument("--task", default=None, choices=("det", "rec", "e2e", "kie", "ner"))
    ev.add_argument("--limit", type=int, default=None, help="the first N samples only")
    ev.add_argument("--report", type=Path, default=None, help="also write the JSON report to this file")
    ev.add_argument("--kie", default="default", help="KIE model (task kie)")
    ev.add_argument("--ner", default=None, help="NER model (task ner; needs --url)")
    ev.add_argument("--class-list", type=Path, default=None, help="KIE class list (default: beside the data)")
    ev.set_defaults(func=run_eval)


def run_dataset_eval(args: argparse.Namespace) -> int:
    """--format/--task: one dataset, one task, MMOCR's metrics, a JSON report."""
    from service.tooling.evaluation.clients import local_ocr, remote_ocr
    from service.tooling.evaluation.dataset_eval import EvalJob, local_kie, remote_kie, remote_ner, run_job
    from service.tooling.evaluation.evaluation import format_report

    if not (args.format and args.task):
        print("eval: --format and --task go together", file=sys.stderr)
        return 2
    job = EvalJob(args.data, args.format, args.task, det=args.det, rec=args.rec, kie=args.kie, ner=args.ner,
                  limit=args.limit, class_list=args.class_list)
    job.check()
    ocr = remote_ocr(args.url) if args.url else local_ocr()
    kie = ner = None
    if args.task == "kie":
        model = args.kie if args.kie != "default" else _default_kie(args)
        job = dataclasses.replace(job, kie=model)
        kie = remote_kie(args.url, model) if args.url else local_kie(ocr, model)
    if args.task == "ner" and args.url and args.ner:
        ner = remote_ner(args.url, args.ner)
    report = run_job(job, ocr, kie=kie, ner=ner)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.report:
        args.report.write_text(text + "\n", encoding="utf-8")
    print(text if args.json else format_report(report))
    return 0


def _default_kie(args: argparse.Namespace) -> str:
    from service.gateway.zoo import load_zoo

    return load_zoo(args.zoo).defaults["kie"]


def _document_pages(data: Path) -> list[tuple[Path, str]]:
    """(page image, its ground-truth text) of each of DOCUMENTS present in the data folder."""
    folder = data / "tesseract" / "testing"
    pairs = [(folder / f"{name}.tif", folder / f"{name}.txt") for name in DOCUMENTS]
    return [(image, truth.read_text(encoding="utf-8")) for image, truth in pairs if image.is_file() and truth.is_file()]


def run_eval(args: argparse.Namespace) -> int:
    if args.format or args.task:
        return run_dataset_eval(args)
    from service.tooling.evaluation.clients import local_ocr, recognizer_from, remote_ocr
    from service.tooling.evaluation.datasets import load_icdar2015_dir, load_word_crops
    from service.tooling.evaluation.evaluation import evaluate_documents, evaluate_end_to_end, evaluate_recognition, format_report

    det_root = args.data / "mmocr" / "0.x" / "toy_dataset"
    rec_root = args.data / "mmocr" / "0.x" / "ocr_toy_dataset"
    if not det_root.is_dir():
        print(f"eval: no data at {det_root}", file=sys.stderr)
        return 2
    ocr = remote_ocr(args.url) if args.url else local_ocr()
    pages = _document_pages(args.data)

    def e2e(data: bytes) -> dict:
        return ocr(data, det=args.det, rec=args.rec)

    # each evaluate_* shows its own progress bar on a terminal (ocrserve.progress.track)
    end_to_end = evaluate_end_to_end(load_icdar2015_dir(det_root), e2e)
    report = {"images": end_to_end.pop("images"), **end_to_end}
    report["recognition"] = evaluate_recognition(load_word_crops(rec_root), recognizer_from(ocr, args.rec))
    if pages:
        report["documents"] = evaluate_documents(pages, e2e)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
