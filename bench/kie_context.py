"""The KIE context network (handlers/predictors/kie_context.py): trained on the out-of-fold outputs of
the cross-validation models (bench/kie_cross_validation.py) and measured; no zoo entry carries one
(bench/RESULTS-kie-real.md, "Context network").

Each fold's SDMG-R model (RUNS/f<k>/s5, trained without fold k) gives class probabilities for the
boxes of fold k's receipts (ground-truth boxes and texts, read as `POST /kie` reads them): SDMG-R's
outputs on receipts it never saw, as the served model's are on a user's. The context network
learns the true labels from them. Printed, MMOCR's WildReceipt macro-F1 (12 value classes), each
with the served tips rule:

- held out: context network trained on folds 0 + 1, measured on folds 2 + 3 (its design used
  folds 0 and 1 only);
- leave one fold out: per fold k, trained on the other folds' outputs, measured on fold k; pooled.

`--write FILE` then trains on all folds' outputs and saves the state dict an archive's `context`
file holds (`ocrserve archive ... --context FILE`).

    .venv/bin/python bench/kie_context.py --split /tmp/kie_real --runs /tmp/kie_cv [--write FILE]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.kie_real_receipts import wild_report  # noqa: E402
from handlers.api.class_list import read_class_list  # noqa: E402
from handlers.kie import document  # noqa: E402
from handlers.predictors.kie_context import context_features, train_context_network, value_class_ids  # noqa: E402
from handlers.predictors.sdmgr import (DEFAULT_MAX_INSTANCES, KIEDocument, SDMGRConfig, SDMGRExtractor,  # noqa: E402
                                       build_network, document_size, values_right_of_keys)

ARCH = "sdmgr_novisual_60e_wildreceipt"
# the zoo entry's value_right_of_key; its value_needs_key came after this bench's tables were
# recorded (RESULTS-kie-real.md), so the labels here stay those of the right-of-key rule alone
TIPS = ("Tips",)


def documents(path: Path) -> list[tuple[KIEDocument, np.ndarray]]:
    """The receipts of an annotation list as the KIE handler reads a `POST /kie` body of their
    annotated boxes and texts, and their true label ids."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            doc = document(None, {"instances": raw["annotations"], "width": raw["width"], "height": raw["height"]},
                           DEFAULT_MAX_INSTANCES, needs_image=False)
            out.append((doc, np.array([a["label"] for a in raw["annotations"]])))
    return out


def out_of_fold(split: Path, runs: Path, folds: int, names: list[str]) -> list[list[tuple]]:
    """Per fold: (features, probabilities, document, labels) of each of its receipts, the
    probabilities from the fold's own model."""
    from handlers.families.kie.text_encoding import KIEDictionary
    from handlers.runtime import load_checkpoint_runner

    values = value_class_ids(names)
    per_fold = []
    for k in range(folds):
        run = runs / f"f{k}" / "s5"
        network = build_network(ARCH, len(names), KIEDictionary.from_file(run / "dict.txt"))
        runner = load_checkpoint_runner(network, run / "sdmgr.pth")
        extractor = SDMGRExtractor(runner, SDMGRConfig.from_dict({"arch": ARCH}), names)
        rows = []
        for doc, labels in documents(split / f"cv{k}_test.txt"):
            prob, _ = extractor.probabilities(doc)
            rows.append((context_features(prob, doc.boxes, doc.texts, document_size(doc), values), prob, doc, labels))
        per_fold.append(rows)
        print(f"fold {k}: {len(rows)} receipts labelled by {run / 'sdmgr.pth'}", flush=True)
    return per_fold


def fit(rows: list[tuple], names: list[str], seed: int):
    return train_context_network([r[0] for r in rows], [r[3] for r in rows], len(names), seed=seed)


def labels(rows: list[tuple], names: list[str], network=None) -> list[list[int]]:
    """Labels of each receipt as served before `value_needs_key`: the network's (or the context
    network's) arg-max, then the right-of-key tips rule."""
    import torch

    out = []
    for features, prob, doc, _ in rows:
        if network is not None:
            with torch.inference_mode():
                prob = network(torch.from_numpy(features)).numpy()
        out.append(values_right_of_keys(prob.argmax(1).tolist(), doc.boxes, doc.texts, names, TIPS))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", type=Path, required=True, help="folder of cv<k>_test.txt and class_list.txt")
    parser.add_argument("--runs", type=Path, required=True, help="folder of f<k>/s5/sdmgr.pth")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", type=Path, help="train on every fold and save the context network here")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    names = read_class_list(args.split / "class_list.txt")
    per_fold = out_of_fold(args.split, args.runs, args.folds, names)
    truth = [[int(g) for g in r[3]] for fold in per_fold for r in fold]

    print("\n| context network trained on / measured on | receipts | macro-F1 | micro-F1 | name | addr | date | total | worst value classes |")
    print("|---|---|---|---|---|---|---|---|---|")
    design, held = per_fold[0] + per_fold[1], [r for fold in per_fold[2:] for r in fold]
    held_truth = [[int(g) for g in r[3]] for r in held]
    wild_report("none (SDMG-R + tips rule) / folds 2+3", labels(held, names), held_truth)
    wild_report("folds 0+1 / folds 2+3 (held out)", labels(held, names, fit(design, names, args.seed)), held_truth)
    pooled = []
    for k, fold in enumerate(per_fold):
        others = [r for j, rows in enumerate(per_fold) if j != k for r in rows]
        predicted = labels(fold, names, fit(others, names, args.seed))
        wild_report(f"other folds / fold {k}", predicted, [[int(g) for g in r[3]] for r in fold])
        pooled += predicted
    wild_report("none (SDMG-R + tips rule) / all folds", labels([r for fold in per_fold for r in fold], names), truth)
    wild_report("other folds / all folds pooled", pooled, truth)

    if args.write:
        network = fit([r for fold in per_fold for r in fold], names, args.seed)
        args.write.parent.mkdir(parents=True, exist_ok=True)
        torch.save(network.state_dict(), args.write)
        print(f"\nwrote {args.write} (trained on the {len(truth)} receipts' out-of-fold outputs, seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
