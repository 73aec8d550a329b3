"""Per-class biases on SDMG-R's log-probabilities, fitted for MMOCR's WildReceipt macro-F1 on two
folds' out-of-fold outputs and measured on the other two (both ways). A check of whether the
served model's arg-max leaves macro-F1 on the table that a calibration could take back; no zoo
entry uses one (bench/RESULTS-kie-real.md, "Class biases").

The out-of-fold outputs are those of bench/kie_context.py (each fold's model on its own fold's
receipts, ground-truth boxes and texts as `POST /kie` reads them); the tips rule runs after the
biased arg-max, as served. The fit is coordinate ascent over a grid of biases, two rounds.

    .venv/bin/python bench/kie_class_bias.py --split /tmp/kie_real --runs /tmp/kie_cv
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.kie_context import labels, out_of_fold  # noqa: E402
from bench.kie_real_receipts import wild_f1  # noqa: E402
from handlers.api.class_list import read_class_list  # noqa: E402

GRID = (-1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5)


def macro_f1(rows: list[tuple], bias: np.ndarray, names: list[str]) -> float:
    """Macro-F1 (12 value classes) of the served labels (arg-max, then the tips rule) with the
    biases added to the log-probabilities: the arg-max of probabilities scaled by exp(bias)."""
    biased = [(features, prob * np.exp(bias), doc, truth) for features, prob, doc, truth in rows]
    return wild_f1(labels(biased, names), [[int(g) for g in r[3]] for r in rows])["macro_f1"]


def fit(rows: list[tuple], names: list[str], rounds: int = 2) -> tuple[np.ndarray, float]:
    bias = np.zeros(len(names))
    best = macro_f1(rows, bias, names)
    for _ in range(rounds):
        for c in range(len(names)):
            for value in GRID:
                trial = bias.copy()
                trial[c] = value
                if (score := macro_f1(rows, trial, names)) > best + 1e-6:
                    best, bias = score, trial
    return bias, best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", type=Path, required=True, help="folder of cv<k>_test.txt and class_list.txt")
    parser.add_argument("--runs", type=Path, required=True, help="folder of f<k>/s5/sdmgr.pth")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    names = read_class_list(args.split / "class_list.txt")
    per_fold = out_of_fold(args.split, args.runs, 4, names)
    first, second = per_fold[0] + per_fold[1], per_fold[2] + per_fold[3]
    none = np.zeros(len(names))
    print("\n| biases fitted on / measured on | macro-F1 on the fit half | measured, no biases | measured, biased | biases |")
    print("|---|---|---|---|---|")
    for label, fit_rows, test_rows in (("folds 0+1 / folds 2+3", first, second),
                                       ("folds 2+3 / folds 0+1", second, first)):
        bias, fitted = fit(fit_rows, names)
        shown = ", ".join(f"{names[i].removesuffix('_value')} {b:+.2f}" for i, b in enumerate(bias) if b)
        print(f"| {label} | {fitted:.4f} | {macro_f1(test_rows, none, names):.4f} "
              f"| {macro_f1(test_rows, bias, names):.4f} | {shown} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
