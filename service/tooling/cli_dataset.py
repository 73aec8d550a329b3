"""`ocrserve dataset convert`: between MMOCR's dataset formats (service/tooling/evaluation/dataset_convert.py)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `dataset convert` on the main parser."""
    dataset = sub.add_parser("dataset", help="MMOCR dataset formats: convert (docs/datasets.md)")
    kinds = dataset.add_subparsers(dest="dataset_command", required=True)
    conv = kinds.add_parser("convert", help="crops + labels -> LMDB, ICDAR txt -> 1.x json or word crops, close -> open set")
    conv.add_argument("source", type=Path, help="label file, annotation json, or dataset folder")
    conv.add_argument("out", type=Path, help="the file (json, txt) or folder (lmdb) to write")
    conv.add_argument("--from", dest="source_format", required=True, help="the source's format (as eval --format)")
    conv.add_argument("--to", dest="target", required=True,
                      choices=("lmdb", "textdet", "textspotting", "crops", "wildreceipt-openset"))
    conv.set_defaults(func=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    from service.tooling.evaluation.dataset_convert import convert

    print(f"dataset convert: {convert(args.source, args.source_format, args.out, args.target)}")
    return 0
