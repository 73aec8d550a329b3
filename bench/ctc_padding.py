"""How far a CTC recogniser's crops are padded, and what it costs: word accuracy of label.txt crop
folders read three ways, one model, one run.

  own     each crop at its own width (rounded up to 8 px, at least 320): what the handler does
  widest  the old rule: crops sorted by width, batches of 8 whose widest is at most 1.5 times the
          narrowest, each padded to its widest (a served read then depended on its batch-mates)
  x1.25   buckets 320, 400, 504, ... (each 1.25 times the last): a crop padded to its bucket

    .venv/bin/python bench/ctc_padding.py --model ppocrv6-small-rec /tmp/rec_ft2/ic15_det_dev /tmp/rec_ft2/docs_sroie

(folders from `bench/rec_finetune.py prepare`.)
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handlers.predictors import ctc  # noqa: E402


def _widest_plan(widths, cfg):
    batches: list[list[int]] = []
    for index in sorted(range(len(widths)), key=lambda i: widths[i]):
        batch = batches[-1] if batches else None
        if (batch is None or len(batch) >= cfg.max_batch
                or max(widths[index], cfg.min_width) > 1.5 * max(widths[batch[0]], cfg.min_width)):
            batches.append([index])
        else:
            batch.append(index)
    return batches


def _bucket(width: int, cfg) -> int:
    bucket = cfg.min_width
    while bucket < width:
        bucket = int(math.ceil(bucket * 1.25 / cfg.width_multiple) * cfg.width_multiple)
    return bucket


def read_with(recognizer, images, scheme: str):
    """Read `images` with the handler's recogniser, its padding rule swapped for `scheme`'s."""
    saved = ctc.plan_batches, ctc.padded_width
    try:
        if scheme == "widest":
            ctc.plan_batches = _widest_plan
        elif scheme == "x1.25":
            ctc.padded_width = _bucket
        return recognizer(images)
    finally:
        ctc.plan_batches, ctc.padded_width = saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", type=Path, nargs="+", help="label.txt crop folders")
    parser.add_argument("--model", default="ppocrv6-small-rec", help="a zoo CTC recogniser")
    args = parser.parse_args()

    import torch

    from service.gateway.zoo import load_zoo
    from service.tooling.evaluation.metrics import recognition_metrics
    from service.tooling.local_backend import LocalBackend
    from service.tooling.training.rec.data import read_crops

    torch.set_num_threads(1)
    recognizer = LocalBackend(load_zoo(REPO / "model_store" / "zoo.yaml")).handler(args.model).model
    print(f"\n{args.model}, one thread\n")
    print("| crops | padding | word acc | ignoring case | 1-N.E.D | seconds |")
    print("|---|---|---|---|---|---|")
    for folder in args.folders:
        crops = read_crops(folder / "label.txt", "label-txt")
        for scheme in ("own", "widest", "x1.25"):
            start = time.perf_counter()
            reads = read_with(recognizer, [c.image for c in crops], scheme)
            seconds = time.perf_counter() - start
            m = recognition_metrics([r.text for r in reads], [c.text for c in crops])
            print(f"| {folder.name} ({len(crops)}) | {scheme} | {m['word_acc']:.4f} | {m['word_acc_ignore_case']:.4f} | "
                  f"{m['1-N.E.D']:.4f} | {seconds:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
