"""Cross-validation of the shipped KIE recipe: each fold's model (the all-data recipe of
model_store/weights/sdmgr-receipts, trained on the other folds' WildReceipt receipts + the SROIE
training part) labels its own fold's receipts through `POST /kie` (ground-truth boxes and texts);
prints MMOCR's WildReceipt macro-F1 (12 value classes) per fold and over all folds pooled (every
one of the 372 receipts labelled once, by a model that never saw it), each fold's model served as
the zoo's `sdmgr` entry is (with its `value_right_of_key` and `value_needs_key` rules) and without
them (`plain`), and with any other rule lists asked for (`--rules`).

    .venv/bin/python bench/kie_learning_curve_lists.py --split /tmp/kie_real --folds 4
    # per fold k: the three training stages (README of sdmgr-receipts, "Cross-validation")
    .venv/bin/python bench/kie_cross_validation.py --split /tmp/kie_real --runs /tmp/kie_cv --folds 4 \
        [--rules Tips: --rules Tips,Total:Tips]   # also served with other rules: RIGHT_OF_KEY:NEEDS_KEY

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
    parser.add_argument("--rules", action="append", default=[], metavar="RIGHT:NEEDS",
                        help="also measure each fold's model with these value_right_of_key : value_needs_key "
                        "field lists (comma-separated, either may be empty; repeatable)")
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
        variants = {"-plain": ":"} | {f"-rules{i}": rules for i, rules in enumerate(args.rules, 1)}
        for model in models[1:]:
            for suffix, rules in variants.items():
                right, _, needs = rules.partition(":")
                entry = copy.deepcopy(raw["models"][model])
                entry["config"]["value_right_of_key"] = [f for f in right.split(",") if f]
                entry["config"]["value_needs_key"] = [f for f in needs.split(",") if f]
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
            rule = {"": "", "-plain": " without the rules"}.get(suffix, f" with rules {variants.get(suffix)}")
            wild_report(f"folds {folds} pooled{rule}, ground-truth boxes", preds, gts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
