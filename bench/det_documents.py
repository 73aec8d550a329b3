"""Does a detector lose on document pages? Character error rate of Tesseract's test pages
(phototest.tif, eurotext.tif: `ocrserve eval`'s document check) through the in-process pipeline
with the zoo's default recogniser, for each detector given (zoo names or `ocrserve train det`
ONNX files), side by side.

    PYTHONPATH=. .venv/bin/python bench/det_documents.py --det dbnet --det /tmp/det_runs/ic15/det.onnx
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from service.gateway.zoo import load_zoo  # noqa: E402
from service.tooling.cli_eval import DEFAULT_DATA, _document_pages  # noqa: E402
from service.tooling.evaluation.clients import local_ocr  # noqa: E402
from service.tooling.evaluation.evaluation import evaluate_documents  # noqa: E402
from service.tooling.training.det.zoo_entry import with_detector  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--det", action="append", required=True, help="zoo detector or .onnx file (repeat)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    pages = _document_pages(args.data)
    if not pages:
        print(f"no document pages under {args.data / 'tesseract' / 'testing'}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(1)
    zoo = load_zoo()
    names = []
    for det in args.det:
        zoo, name = with_detector(zoo, det)
        names.append(name)
    ocr = local_ocr(zoo)
    stems = [Path(p).stem for p, _ in pages]
    print("| detector | " + " | ".join(f"CER {s}" for s in stems) + " | s/page |")
    print("|---|" + "---|" * (len(stems) + 1))
    for name in names:
        start = time.perf_counter()
        report = evaluate_documents(pages, lambda data, name=name: ocr(data, det=name))
        seconds = (time.perf_counter() - start) / len(pages)
        print(f"| {name} | " + " | ".join(f"{report[f'cer_{s}']:.4f}" for s in stems) + f" | {seconds:.2f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
