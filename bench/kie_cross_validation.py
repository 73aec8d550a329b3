"""Cross-validation of the shipped KIE recipe: each fold's model (the all-data recipe of
model_store/weights/sdmgr-receipts, trained on the other folds' WildReceipt receipts + the SROIE
training part) labels its own fold's receipts through `POST /kie` (ground-truth boxes and texts);
prints MMOCR's WildReceipt macro-F1 (12 value classes) per fold and over all folds pooled (every
one of the 372 receipts labelled once, by a model that never saw it), each fold's model served as
the zoo's `sdmgr` entry is (with its `value_right_of_key` rule) and without that rule.

    .venv/bin/python bench/kie_learning_curve_lists.py --split /tmp/kie_real --folds 4
    # per fold k: the three training stages (README of sdmgr-receipts, "Cross-validation")
    .venv/bin/python bench/kie_cross_validation.py --split /tmp/kie_real --runs /tmp/kie_cv --folds 4 \
        [--right-of-key Tips,Total]   # also served with another value_right_of_key list

A fold's model is RUNS/f<k>/s5/sdmgr.pth (class_list.txt, dict.txt beside it).
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.kie_real_receipts import candidate_zoo, labels_of_gt_boxes, wild_report  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", type=Path, required=True, help="folder of cv<k>_test.txt")
    parser.add_argument("--runs", type=Path, required=True, help="folder of f<k>/s5/sdmgr.pth")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--fold", type=int, action="append", default=[],
                        help="measure only this fold (repeatable; default: every fold)")
    parser.add_argument("--right-of-key", action="append", default=[], metavar="F1,F2",
                        help="also measure each fold's model with this value_right_of_key list (repeatable)")
    args = parser.parse_args()

    import torch
    import yaml
    from fastapi.testclient import TestClient

    from service.gateway.main import create_app
    from service.gateway.settings import Settings
    from service.gateway.zoo import load_zoo
    from service.tooling.local_backend import LocalBackend

    torch.set_num_threads(1)
    folds = args.fold or list(range(args.folds))
    checkpoints = [args.runs / f"f{k}" / "s5" / "sdmgr.pth" for k in folds]
    missing = [str(c) for c in checkpoints if not c.is_file()]
    if missing:
        print(f"missing fold models: {missing}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        zoo_path, models = candidate_zoo(checkpoints, Path(tmp) / "zoo.yaml")
        raw = yaml.safe_load(zoo_path.read_text(encoding="utf-8"))
        variants = {"-plain": []} | {f"-rule{i}": fields.split(",") for i, fields in enumerate(args.right_of_key, 1)}
        for model in models[1:]:
            for suffix, fields in variants.items():
                entry = copy.deepcopy(raw["models"][model])
                entry["config"]["value_right_of_key"] = fields
                raw["models"][model + suffix] = entry
        zoo_path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        app = create_app(Settings(zoo_path=zoo_path), backend=LocalBackend(load_zoo(zoo_path)))
        pooled: dict[str, tuple[list, list]] = {suffix: ([], []) for suffix in ("", *variants)}
        print("\n| fold / input | receipts | macro-F1 | micro-F1 | name | addr | date | total | worst value classes |")
        print("|---|---|---|---|---|---|---|---|---|")
        with TestClient(app) as client:
            for k, model in zip(folds, models[1:]):
                lines = (args.split / f"cv{k}_test.txt").read_text(encoding="utf-8").splitlines()
                docs = [json.loads(line) for line in lines if line.strip()]
                gts = [[a["label"] for a in d["annotations"]] for d in docs]
                for suffix, (preds, all_gts) in pooled.items():
                    labels = labels_of_gt_boxes(client, docs, model + suffix)
                    wild_report(f"fold {k} ({model}{suffix}), ground-truth boxes", labels, gts)
                    preds += labels
                    all_gts += gts
        for suffix, (preds, gts) in pooled.items():
            rule = {"": "", "-plain": " without the rule"}.get(suffix, f" right of keys {variants.get(suffix)}")
            wild_report(f"folds {folds} pooled{rule}, ground-truth boxes", preds, gts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
