"""KIE on real receipts through the gateway's routes, the zoo's models in-process (LocalBackend,
one thread). For each KIE model (the zoo's `sdmgr`, plus any `--checkpoint` candidates):

* WildReceipt (`--ann`, MMOCR closeset lines), two ways:
  - ground truth: `POST /kie` with the annotated boxes and texts (what `ocrserve train kie
    --eval-only` measures, here through the serving path), every receipt of the file;
  - full path: `POST /ocr?kie=<model>` on the receipts whose image exists: each annotated box
    takes the label of the OCR line covering most of it (intersection / box area >= 0.5); a box
    no line covers counts as predicted `Ignore` (a miss, never a false positive).
  Both print MMOCR's WildReceipt macro-F1 (12 value classes, classes absent on both sides count
  0) and the F1 of store name, address, date and total.
* SROIE (`--sroie DIR`, every receipt with an image in DIR/img, keys in DIR/key): `POST
  /ocr?kie=<model>`; a field counts when one line, or a run of consecutive lines (in the
  response's order), labelled with its class matches the key: `exact` = equal after upper-casing
  and dropping whitespace (a total may carry the `RM` currency); `contains` = the labelled
  line / run holds the key (dates printed with the time, `TOTAL: 9.00` read as one line).

    .venv/bin/python bench/kie_prepare_real.py --out /tmp/kie_real   # the fixed split
    .venv/bin/python bench/kie_real_receipts.py --ann /tmp/kie_real/wild_test.txt \\
        --sroie ../shared/data/sroie2019_train [--checkpoint NEW/sdmgr.pth [--no-default]] [--no-ocr]

Without arguments: the 2 receipts of the MMOCR KIE toy set. `--no-ocr` keeps only the
ground-truth-box figures (fast).
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
import yaml  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from service.tooling.evaluation.kie_metrics import kie_f1  # noqa: E402
from service.tooling.local_backend import LocalBackend  # noqa: E402
from service.tooling.training.kie.dataset import UNLABELLED  # noqa: E402
from service.tooling.training.kie.evaluate import WILDRECEIPT_CLASSES, ignored_classes_for, per_class_scores  # noqa: E402
from service.tooling.training.kie.real_data import SROIE_CLASSES, norm  # noqa: E402
from service.gateway.main import create_app  # noqa: E402
from service.tooling.evaluation.metrics import _intersection_area, _polygon, _valid  # noqa: E402
from service.gateway.settings import Settings  # noqa: E402
from service.tooling.packaging.weights import sha256_of  # noqa: E402
from service.gateway.zoo import load_zoo  # noqa: E402

DEFAULT_ANN = REPO.parent / "shared" / "data" / "mmocr" / "main" / "kie_toy_dataset" / "wildreceipt" / "data.txt"
FIELDS = ("Store_name_value", "Store_addr_value", "Date_value", "Total_value")


def cover_labels(gt_boxes: list[list[float]], instances: list[dict]) -> tuple[list[int], int]:
    """Label of the OCR line covering most of each annotated box (0 when none covers half)."""
    lines = [(_polygon(i["box"]), WILDRECEIPT_CLASSES.index(i["label"])) for i in instances]
    labels, covered = [], 0
    for box in gt_boxes:
        gt = _polygon(box)
        area = _valid(gt).area
        shares = [(_intersection_area(line, gt) / area if area > 0 else 0.0, label) for line, label in lines]
        best, best_label = max(shares, key=lambda share_label: share_label[0], default=(0.0, 0))
        covered += best >= 0.5
        labels.append(best_label if best >= 0.5 else 0)
    return labels, covered


def field_found(lines: list[tuple[str, str]], label: str, key: str, field: str) -> tuple[bool, bool]:
    """(exact, contains): does a line or a run of consecutive lines labelled ``label`` match ``key``?"""
    key = norm(key)
    exact = contains = False
    for i in range(len(lines)):
        joined = ""
        for text, lab in lines[i:]:
            if lab != label:
                break
            joined += norm(text)
            exact |= joined == key or (field == "total" and joined == "RM" + key)
            contains |= bool(key) and key in joined
    return exact, contains


def wild_report(name: str, preds: list[list[int]], gts: list[list[int]]) -> None:
    keep = [[g != UNLABELLED for g in row] for row in gts]
    preds = [[p for p, k in zip(row, ks) if k] for row, ks in zip(preds, keep)]
    gts = [[g for g, k in zip(row, ks) if k] for row, ks in zip(gts, keep)]
    f1 = kie_f1(preds, gts, len(WILDRECEIPT_CLASSES), mode=["macro", "micro"],
                ignored_classes=ignored_classes_for(WILDRECEIPT_CLASSES))
    per = per_class_scores(preds, gts, WILDRECEIPT_CLASSES)
    fields = " | ".join(f"{per[f]['f1']:.2f}" for f in FIELDS)
    worst = ", ".join(f"{c.removesuffix('_value')} {per[c]['f1']:.2f}" for c in sorted(
        (c for c in WILDRECEIPT_CLASSES if c.endswith("_value")), key=lambda c: per[c]["f1"])[:3])
    print(f"| {name} | {len(gts)} | {f1['macro_f1']:.4f} | {f1['micro_f1']:.4f} | {fields} | {worst} |", flush=True)


def candidate_zoo(checkpoints: list[Path], out: Path) -> tuple[Path, list[str]]:
    """A copy of the zoo manifest at ``out`` plus each checkpoint as model ``sdmgr-cand<i>`` (the
    entry of sdmgr with other weights, and the class list / dictionary beside them); returns the
    manifest and the KIE model names to measure."""
    raw = yaml.safe_load((REPO / "model_store" / "zoo.yaml").read_text(encoding="utf-8"))
    names = ["sdmgr"]
    for i, ckpt in enumerate(checkpoints, 1):
        ckpt = ckpt.resolve()
        entry = copy.deepcopy(raw["models"]["sdmgr"])
        entry["weights"].update(path=str(ckpt), sha256=sha256_of(ckpt))
        for item in entry["files"].values():
            beside = ckpt.parent / Path(item["path"]).name
            item.update(path=str(beside), sha256=sha256_of(beside))
        name = f"sdmgr-cand{i}"
        raw["models"][name] = entry
        names.append(name)
        print(f"{name} = {ckpt}")
    out.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return out, names


def image_of(ann: Path, file_name: str) -> Path:
    for cand in (Path(file_name), ann.parent / file_name, ann.parent / Path(file_name).name):
        if cand.is_file():
            return cand
    return ann.parent / file_name


def run_wild(client: TestClient, ann: Path, models: list[str], ocr: bool) -> None:
    docs = [json.loads(line) for line in ann.read_text().splitlines() if line.strip()]
    gts = [[a["label"] for a in d["annotations"]] for d in docs]
    with_image = [i for i, d in enumerate(docs) if image_of(ann, d["file_name"]).is_file()]
    print(f"\nWildReceipt {ann}: {len(docs)} receipts ({len(with_image)} with an image)\n")
    print("| model / input | receipts | macro-F1 | micro-F1 | name | addr | date | total | worst value classes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model in models:
        from_gt = []
        for doc in docs:
            body = {"instances": [{"box": a["box"], "text": a["text"]} for a in doc["annotations"]],
                    "width": doc["width"], "height": doc["height"], "model": model}
            response = client.post("/kie", json=body)
            response.raise_for_status()
            from_gt.append([i["label_id"] for i in response.json()["instances"]])
        wild_report(f"{model}, ground-truth boxes", from_gt, gts)
        if not ocr or not with_image:
            continue
        from_ocr, seconds = [], 0.0
        for i in with_image:
            image = image_of(ann, docs[i]["file_name"]).read_bytes()
            start = time.perf_counter()
            response = client.post(f"/ocr?kie={model}", files={"file": ("r.jpg", image, "image/jpeg")})
            response.raise_for_status()
            seconds += time.perf_counter() - start
            from_ocr.append(cover_labels([a["box"] for a in docs[i]["annotations"]],
                                         response.json()["pages"][0]["result"])[0])
        wild_report(f"{model}, /ocr?kie ({seconds / len(with_image):.1f} s/receipt)", from_ocr,
                    [gts[i] for i in with_image])


def run_sroie(client: TestClient, root: Path, models: list[str]) -> None:
    images = sorted((root / "img").glob("*.jpg"))
    print(f"\nSROIE {root}: {len(images)} receipts with an image, `/ocr?kie=`; fraction found, exact / contains\n")
    print("| model | receipts | company | address | date | total | mean (exact) |")
    print("|---|---|---|---|---|---|---|")
    for model in models:
        hits = {f: [0, 0] for f in SROIE_CLASSES}
        for path in images:
            keys = json.loads((root / "key" / f"{path.stem}.json").read_text())
            response = client.post(f"/ocr?kie={model}", files={"file": ("r.jpg", path.read_bytes(), "image/jpeg")})
            response.raise_for_status()
            lines = [(i["text"], i["label"]) for i in response.json()["pages"][0]["result"]]
            for field, cls in SROIE_CLASSES.items():
                exact, contains = field_found(lines, WILDRECEIPT_CLASSES[cls], keys.get(field, ""), field)
                hits[field][0] += exact
                hits[field][1] += contains
        n = max(len(images), 1)
        cells = " | ".join(f"{e / n:.2f} / {c / n:.2f}" for e, c in hits.values())
        mean = sum(e for e, _ in hits.values()) / (n * len(hits))
        print(f"| {model} | {len(images)} | {cells} | {mean:.2f} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ann", type=Path, default=DEFAULT_ANN, help="WildReceipt closeset annotations")
    parser.add_argument("--sroie", type=Path, default=None, help="SROIE folder (img/, key/)")
    parser.add_argument("--checkpoint", type=Path, action="append", default=[],
                        help="candidate sdmgr.pth (class_list.txt, dict.txt beside it); repeatable")
    parser.add_argument("--no-ocr", action="store_true", help="ground-truth boxes only")
    parser.add_argument("--no-default", action="store_true", help="measure only the --checkpoint models")
    args = parser.parse_args()
    if not args.ann.is_file():
        print(f"no annotations at {args.ann}", file=sys.stderr)
        return 2
    if args.sroie is not None and not (args.sroie / "img").is_dir():
        print(f"no SROIE images at {args.sroie / 'img'}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        zoo_path, models = candidate_zoo(args.checkpoint, Path(tmp) / "zoo.yaml")
        models = models[1:] if args.no_default and args.checkpoint else models
        app = create_app(Settings(zoo_path=zoo_path), backend=LocalBackend(load_zoo(zoo_path)))
        with TestClient(app) as client:
            run_wild(client, args.ann, models, ocr=not args.no_ocr)
            if args.sroie is not None and not args.no_ocr:
                run_sroie(client, args.sroie, models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
