"""SDMG-R weight averaging and output ensembles, measured in-process on WildReceipt-format data
with ground-truth boxes and texts (``service/tooling/training/kie/evaluate.py``: MMOCR's
WildReceipt macro-F1 over the 12 value classes, the figure `ocrserve train kie --eval-only` and
`bench/kie_real_receipts.py --no-ocr` print).

For every run folder (``--run DIR``, holding ``epoch_NNN.pth`` from `ocrserve train kie
--save-every-epoch`, with ``class_list.txt`` / ``dict.txt``):

* each epoch's checkpoint (``--per-epoch``);
* the uniform average of its last K epoch checkpoints (``--last K``, repeatable): SWA-style,
  ``checkpoint.average_models``;

then every output ensemble (``--ensemble A+B[+C]``, each part a run letter of ``--run`` as given,
``X:last5`` for an average, ``X:e18`` for one epoch): the node-class probabilities (softmax) of the
models averaged, arg-max (``ensemble_predict`` below).

``--write OUT --run DIR --last K`` writes the average of DIR's last K epochs as ``OUT/sdmgr.pth``
(+ class_list.txt, dict.txt): the command that reproduces a shipped average.

    .venv/bin/python bench/kie_weight_average.py --ann /tmp/kie_real/wild_val.txt \\
        --run A=/tmp/kie2_runs/A --run B=/tmp/kie2_runs/B --per-epoch --last 3 --last 5 --last 8 \\
        --ensemble A+B --ensemble A:last5+B:last5
    .venv/bin/python bench/kie_weight_average.py --run B=/tmp/kie2_runs/B --last 5 --write OUT
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from handlers.families.kie.sdmgr import postprocess  # noqa: E402
from service.tooling.training.kie.checkpoint import (average_models, load_checkpoint,  # noqa: E402
                                                      save_checkpoint)
from service.tooling.training.kie.dataset import UNLABELLED, make_batch, read_annotations  # noqa: E402
from service.tooling.training.kie.evaluate import (WILDRECEIPT_CLASSES, ignored_classes_for,  # noqa: E402
                                                   per_class_scores)
from service.tooling.evaluation.kie_metrics import kie_f1  # noqa: E402

FIELDS = ("Store_name_value", "Store_addr_value", "Date_value", "Total_value", "Tips_value")


def epochs_of(run: Path) -> list[Path]:
    found = sorted(run.glob("epoch_*.pth"), key=lambda p: int(re.findall(r"\d+", p.stem)[0]))
    if not found:
        raise SystemExit(f"no epoch_NNN.pth in {run}")
    return found


def row(name: str, reports: list[dict]) -> str:
    """One table row: per annotation file, macro-F1, micro-F1, the node NLL, then (first file) the fields."""
    per = reports[0]["per_class"]
    cells = " | ".join(f"{per[f]['f1']:.2f}" for f in FIELDS)
    scores = " | ".join(f"{r['macro_f1']:.4f} | {r['micro_f1']:.4f} | {r['nll']:.4f}" for r in reports)
    return f"| {name} | {scores} | {cells} |"


def measure(models: list, sets: list[list]) -> list[dict]:
    return [evaluate_ensemble(models, docs, list(WILDRECEIPT_CLASSES)) for docs in sets]


def model_of(spec: str, runs: dict[str, Path]):
    """``X`` (the run's sdmgr.pth), ``X:eN`` (epoch N), ``X:lastK`` (average of the last K)."""
    letter, _, what = spec.partition(":")
    run = runs[letter]
    if not what:
        return load_checkpoint(run / "sdmgr.pth")[0]
    if what.startswith("e"):
        return load_checkpoint(run / f"epoch_{int(what[1:]):03d}.pth")[0]
    if what.startswith("last"):
        return averaged(run, int(what[4:]))
    raise SystemExit(f"bad model spec {spec!r}")


def averaged(run: Path, k: int):
    return average_models(epochs_of(run)[-k:])[0]


@torch.no_grad()
def ensemble_predict(models: list, img, boxes, texts) -> list[dict]:
    """MMOCR's post-processing on the mean of the models' node (and edge) softmax outputs (one
    model: its own output); each result also holds ``log_probs`` (N, classes) of the mean."""
    node = edge = 0
    for model in models:
        n, e = model.eval()(img, boxes, texts)
        node, edge = node + torch.softmax(n, -1), edge + torch.softmax(e, -1)
    # postprocess applies softmax: the log of the mean probabilities keeps their arg-max and ratios
    node_log, nums = (node / len(models)).log(), [len(t) for t in texts]
    out = postprocess(node_log, (edge / len(models)).log(), nums)
    for result, part in zip(out, node_log.split(nums)):
        result["log_probs"] = part
    return out


@torch.no_grad()
def evaluate_ensemble(models: list, docs, classes) -> dict:
    """macro / micro F1 (as evaluate.evaluate), per-class scores and ``nll``: the mean negative
    log-likelihood of the true class over the labelled boxes (a finer, continuous measure)."""
    preds, gts, nll, n = [], [], 0.0, 0
    for start in range(0, len(docs), 8):
        chunk = docs[start:start + 8]
        batch = make_batch(chunk, with_image=False)
        for pred, doc in zip(ensemble_predict(models, batch.img, batch.boxes, batch.texts), chunk):
            keep = doc.labels != UNLABELLED
            preds.append([p for p, k in zip(pred["labels"].tolist(), keep) if k])
            gts.append(doc.labels[keep].tolist())
            true = torch.as_tensor(doc.labels[keep])
            nll -= float(pred["log_probs"][torch.as_tensor(keep)].gather(1, true[:, None]).sum())
            n += len(true)
    f1 = kie_f1(preds, gts, len(classes), mode=["macro", "micro"], ignored_classes=ignored_classes_for(classes))
    return dict(**f1, per_class=per_class_scores(preds, gts, classes), nll=nll / max(n, 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ann", type=Path, action="append", default=[],
                        help="annotation files (repeatable; default /tmp/kie_real/wild_val.txt and sroie_val.txt)")
    parser.add_argument("--run", action="append", default=[], help="LETTER=DIR (or DIR: letters A, B, ...)")
    parser.add_argument("--per-epoch", action="store_true")
    parser.add_argument("--last", type=int, action="append", default=[])
    parser.add_argument("--ensemble", action="append", default=[], help="e.g. A+B, A:last5+B:e18")
    parser.add_argument("--write", type=Path, default=None, help="write the average of the first run's --last K")
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = {}
    for i, item in enumerate(args.run):
        letter, sep, path = item.partition("=")
        runs[letter if sep else chr(65 + i)] = Path(path if sep else item)
    if args.write is not None:
        if len(runs) != 1 or len(args.last) != 1:
            raise SystemExit("--write takes one --run and one --last")
        (run,) = runs.values()
        paths = epochs_of(run)[-args.last[0]:]
        model, classes, meta = average_models(paths)
        meta = dict(meta, averaged_epochs=[p.name for p in paths], averaged_from=str(run))
        out = save_checkpoint(args.write, model, classes, meta)
        print(f"wrote {out}: uniform average of {', '.join(p.name for p in paths)} of {run}")
        return 0
    classes = list(WILDRECEIPT_CLASSES)
    anns = args.ann or [Path("/tmp/kie_real/wild_val.txt"), Path("/tmp/kie_real/sroie_val.txt")]
    sets = [read_annotations(a, num_classes=len(classes)) for a in anns]
    head = "".join(f" {a.stem} macro-F1 | micro-F1 | NLL |" for a in anns)
    print(", ".join(f"{a}: {len(d)} receipts" for a, d in zip(anns, sets)) +
          "; ground-truth boxes and texts, torch threads 1; name .. tips: F1 on the first file\n")
    print(f"| model |{head} name | addr | date | total | tips |")
    print("|---|" + "---|" * (3 * len(anns) + 5))
    start = time.perf_counter()
    for letter, run in runs.items() if args.per_epoch or args.last else ():
        paths = epochs_of(run)
        if args.per_epoch:
            for p in paths:
                print(row(f"{letter} {p.stem}", measure([load_checkpoint(p)[0]], sets)), flush=True)
        for k in args.last:
            first, last = paths[-k].stem.split("_")[1], paths[-1].stem.split("_")[1]
            print(row(f"{letter} average of epochs {int(first)}-{int(last)} (last {k})",
                      measure([averaged(run, k)], sets)), flush=True)
    for spec in args.ensemble:
        models = [model_of(part, runs) for part in spec.split("+")]
        print(row(f"ensemble {spec} (mean softmax)" if len(models) > 1 else spec, measure(models, sets)), flush=True)
    print(f"\n{time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
