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
  line / run holds the key (dates printed with the time, `TOTAL: 9.00` read as one line);
  `value` = exact, or one unit labelled with the class has a `value` (the date / amount in its
  text, service/gateway/kie_values.py) equal to the key after the same normalisation.

    .venv/bin/python bench/kie_prepare_real.py --out /tmp/kie_real   # the fixed split
    .venv/bin/python bench/kie_real_receipts.py --ann /tmp/kie_real/wild_test.txt \\
        --sroie ../shared/data/sroie2019_train [--checkpoint NEW/sdmgr.pth [--no-default]] [--no-ocr]
        [--unit line --unit segment --unit word] [--gap 0.6] [--sroie-part tune|test] [--no-gt]

`--unit` picks what `/ocr?kie=` labels (`kie_unit`, service/gateway/kie_units.py): with segments or
words, a WildReceipt box takes the label whose units cover most of it (summed over units), and a
SROIE field is matched against runs of consecutive labelled units. Tuning uses
`wild_val.txt` and `--sroie-part tune`; reported figures use `wild_test.txt` and `--sroie-part test`.

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
from service.tooling.training.kie.real_data import SROIE_CLASSES, norm, sroie_images  # noqa: E402
from service.gateway import kie_units  # noqa: E402
from service.gateway.main import create_app  # noqa: E402
from service.tooling.evaluation.metrics import _intersection_area, _polygon, _valid  # noqa: E402
from service.gateway.settings import Settings  # noqa: E402
from service.tooling.packaging.weights import sha256_of  # noqa: E402
from service.gateway.zoo import load_zoo  # noqa: E402
from service.tooling.training.det.zoo_entry import with_detector, write_zoo  # noqa: E402

DEFAULT_ANN = REPO.parent / "shared" / "data" / "mmocr" / "main" / "kie_toy_dataset" / "wildreceipt" / "data.txt"
FIELDS = ("Store_name_value", "Store_addr_value", "Date_value", "Total_value")


def labelled_units(page: dict) -> list[dict]:
    """The page's KIE units in response order: its lines (kie_unit=line) or their segments."""
    return [unit for line in page["result"] for unit in (line.get("segments") or [line])]


def cover_labels(gt_boxes: list[list[float]], instances: list[dict]) -> tuple[list[int], int]:
    """The label covering most of each annotated box, summed over the OCR units (lines or
    segments) that carry it; 0 when no label covers half of the box (with lines, which do not
    overlap, this is the label of the line covering most of it)."""
    units = [(_polygon(i["box"]), WILDRECEIPT_CLASSES.index(i["label"])) for i in instances]
    labels, covered = [], 0
    for box in gt_boxes:
        gt = _polygon(box)
        area = _valid(gt).area
        shares: dict[int, float] = {}
        for unit, label in units:
            if area > 0:
                shares[label] = shares.get(label, 0.0) + _intersection_area(unit, gt) / area
        best_label, best = max(shares.items(), key=lambda item: item[1], default=(0, 0.0))
        covered += best >= 0.5
        labels.append(best_label if best >= 0.5 else 0)
    return labels, covered


def field_found(lines: list[tuple[str, str]], label: str, key: str, field: str,
                values: list[str | None] | None = None) -> tuple[bool, bool, bool]:
    """(exact, contains, value): does a line or a run of consecutive lines labelled ``label`` match
    ``key``; does one unit's `value` (service/gateway/kie_values.py) equal it?"""
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
    by_value = any(lab == label and v is not None and norm(v) == key
                   for (_, lab), v in zip(lines, values or [None] * len(lines)))
    return exact, contains, exact or by_value


def labelled_boxes(preds: list[list[int]], gts: list[list[int]]) -> tuple[list[list[int]], list[list[int]]]:
    """Each receipt's predicted and true labels of its labelled boxes only (unlabelled ones left out)."""
    keep = [[g != UNLABELLED for g in row] for row in gts]
    return ([[p for p, k in zip(row, ks) if k] for row, ks in zip(preds, keep)],
            [[g for g, k in zip(row, ks) if k] for row, ks in zip(gts, keep)])


def wild_f1(preds: list[list[int]], gts: list[list[int]]) -> dict:
    """MMOCR's WildReceipt macro- and micro-F1 (value classes) of the labelled boxes."""
    return kie_f1(*labelled_boxes(preds, gts), len(WILDRECEIPT_CLASSES), mode=["macro", "micro"],
                  ignored_classes=ignored_classes_for(WILDRECEIPT_CLASSES))


def wild_report(name: str, preds: list[list[int]], gts: list[list[int]]) -> None:
    f1 = wild_f1(preds, gts)
    preds, gts = labelled_boxes(preds, gts)
    per = per_class_scores(preds, gts, WILDRECEIPT_CLASSES)
    fields = " | ".join(f"{per[f]['f1']:.2f}" for f in FIELDS)
    worst = ", ".join(f"{c.removesuffix('_value')} {per[c]['f1']:.2f}" for c in sorted(
        (c for c in WILDRECEIPT_CLASSES if c.endswith("_value")), key=lambda c: per[c]["f1"])[:3])
    print(f"| {name} | {len(gts)} | {f1['macro_f1']:.4f} | {f1['micro_f1']:.4f} | {fields} | {worst} |", flush=True)


def candidate_zoo(checkpoints: list[Path], out: Path, det: str | None = None) -> tuple[Path, list[str]]:
    """A copy of the zoo manifest at ``out`` plus each checkpoint as model ``sdmgr-cand<i>`` (the
    entry of sdmgr with other weights, and the class list / dictionary beside them), and ``det`` (a
    zoo detector or an ONNX file, as scene_text_levers.py --det) as the detector of every receipt (the
    zoo's photo route off); returns the manifest and the KIE model names to measure."""
    raw = yaml.safe_load((REPO / "model_store" / "zoo.yaml").read_text(encoding="utf-8"))
    names = ["sdmgr"]
    for i, ckpt in enumerate(checkpoints, 1):
        ckpt = ckpt.resolve()
        entry = copy.deepcopy(raw["models"]["sdmgr"])
        entry["weights"].update(path=str(ckpt), sha256=sha256_of(ckpt))
        for item in entry["files"].values():
            beside = ckpt.parent / Path(item["path"]).name
            item.update(path=str(beside), sha256=sha256_of(beside))
        context = ckpt.parent / "context.pth"  # a context network (bench/kie_context.py --write) beside it
        if context.is_file():
            entry["files"]["context"] = {"path": str(context), "sha256": sha256_of(context)}
        name = f"sdmgr-cand{i}"
        raw["models"][name] = entry
        names.append(name)
        print(f"{name} = {ckpt}")
    out.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    if det:
        zoo, name = with_detector(load_zoo(out), det)
        # a named detector reads every receipt, as /ocr?det= does: no photo route
        write_zoo(zoo.model_copy(update={"defaults": {**zoo.defaults, "det": name}, "photos": None}), out)
        print(f"detector {name} (photo route off)")
    return out, names


def image_of(ann: Path, file_name: str) -> Path:
    for cand in (Path(file_name), ann.parent / file_name, ann.parent / Path(file_name).name):
        if cand.is_file():
            return cand
    return ann.parent / file_name


def ocr_page(client: TestClient, image: bytes, model: str, unit: str) -> dict:
    response = client.post(f"/ocr?kie={model}&kie_unit={unit}", files={"file": ("r.jpg", image, "image/jpeg")})
    response.raise_for_status()
    return response.json()["pages"][0]


def labels_of_gt_boxes(client: TestClient, docs: list[dict], model: str) -> list[list[int]]:
    """The label ids `POST /kie` gives each receipt's annotated boxes and texts."""
    labels = []
    for doc in docs:
        body = {"instances": [{"box": a["box"], "text": a["text"]} for a in doc["annotations"]],
                "width": doc["width"], "height": doc["height"], "model": model}
        response = client.post("/kie", json=body)
        response.raise_for_status()
        labels.append([i["label_id"] for i in response.json()["instances"]])
    return labels


def run_wild(client: TestClient, ann: Path, models: list[str], units: list[str], ocr: bool, gt: bool) -> None:
    docs = [json.loads(line) for line in ann.read_text().splitlines() if line.strip()]
    gts = [[a["label"] for a in d["annotations"]] for d in docs]
    with_image = [i for i, d in enumerate(docs) if image_of(ann, d["file_name"]).is_file()]
    print(f"\nWildReceipt {ann}: {len(docs)} receipts ({len(with_image)} with an image)\n")
    print("| model / input | receipts | macro-F1 | micro-F1 | name | addr | date | total | worst value classes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model in models:
        if gt:
            wild_report(f"{model}, ground-truth boxes", labels_of_gt_boxes(client, docs, model), gts)
        for unit in units if ocr and with_image else []:
            from_ocr, seconds = [], 0.0
            for i in with_image:
                image = image_of(ann, docs[i]["file_name"]).read_bytes()
                start = time.perf_counter()
                page = ocr_page(client, image, model, unit)
                seconds += time.perf_counter() - start
                from_ocr.append(cover_labels([a["box"] for a in docs[i]["annotations"]], labelled_units(page))[0])
            wild_report(f"{model}, /ocr?kie&kie_unit={unit} ({seconds / len(with_image):.1f} s/receipt)", from_ocr,
                        [gts[i] for i in with_image])


def run_sroie(client: TestClient, root: Path, models: list[str], units: list[str], part: str) -> None:
    images = sroie_images(root, part)
    print(f"\nSROIE {root} ({part}): {len(images)} receipts with an image, `/ocr?kie=`; fraction found, "
          "exact / contains / exact or a unit's `value`\n")
    print("| model | unit | receipts | company | address | date | total | mean (exact / with value) |")
    print("|---|---|---|---|---|---|---|---|")
    for model in models:
        for unit in units:
            hits = {f: [0, 0, 0] for f in SROIE_CLASSES}
            for path in images:
                keys = json.loads((root / "key" / f"{path.stem}.json").read_text())
                labelled = labelled_units(ocr_page(client, path.read_bytes(), model, unit))
                found = [(u["text"], u["label"]) for u in labelled]
                for field, cls in SROIE_CLASSES.items():
                    hit = field_found(found, WILDRECEIPT_CLASSES[cls], keys.get(field, ""), field,
                                      [u.get("value") for u in labelled])
                    for k in range(3):
                        hits[field][k] += hit[k]
            n = max(len(images), 1)
            cells = " | ".join(f"{e / n:.2f} / {c / n:.2f} / {v / n:.2f}" for e, c, v in hits.values())
            means = " / ".join(f"{sum(h[k] for h in hits.values()) / (n * len(hits)):.2f}" for k in (0, 2))
            print(f"| {model} | {unit} | {len(images)} | {cells} | {means} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ann", type=Path, default=DEFAULT_ANN, help="WildReceipt closeset annotations")
    parser.add_argument("--sroie", type=Path, default=None, help="SROIE folder (img/, key/)")
    parser.add_argument("--checkpoint", type=Path, action="append", default=[],
                        help="candidate sdmgr.pth (class_list.txt, dict.txt beside it, and context.pth "
                        "when it has a context network); repeatable")
    parser.add_argument("--no-ocr", action="store_true", help="ground-truth boxes only")
    parser.add_argument("--no-default", action="store_true", help="measure only the --checkpoint models")
    parser.add_argument("--unit", action="append", choices=("line", "segment", "word"), default=[],
                        help="/ocr kie_unit to measure (repeatable; default line)")
    parser.add_argument("--gap", type=float, default=None,
                        help="segment threshold in line heights (default service.gateway.kie_units.SEGMENT_GAP)")
    parser.add_argument("--sroie-part", choices=("all", "tune", "test"), default="all",
                        help="SROIE images: all, or the tuning / reported half")
    parser.add_argument("--no-gt", action="store_true", help="skip the ground-truth-box figures")
    parser.add_argument("--det", default=None, help="detector of the /ocr figures: a zoo detector or an .onnx file "
                        "served like the default one (ocrserve train det's output), for every receipt; default: the "
                        "zoo's own choice (its default detector, photos routed by `photos`)")
    args = parser.parse_args()
    if not args.ann.is_file():
        print(f"no annotations at {args.ann}", file=sys.stderr)
        return 2
    if args.sroie is not None and not (args.sroie / "img").is_dir():
        print(f"no SROIE images at {args.sroie / 'img'}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    units = args.unit or ["line"]
    if args.gap is not None:
        kie_units.SEGMENT_GAP = args.gap
    print(f"kie_unit {units}, segment gap {kie_units.SEGMENT_GAP} line heights")
    with tempfile.TemporaryDirectory() as tmp:
        zoo_path, models = candidate_zoo(args.checkpoint, Path(tmp) / "zoo.yaml", args.det)
        models = models[1:] if args.no_default and args.checkpoint else models
        app = create_app(Settings(zoo_path=zoo_path), backend=LocalBackend(load_zoo(zoo_path)))
        with TestClient(app) as client:
            run_wild(client, args.ann, models, units, ocr=not args.no_ocr, gt=not args.no_gt)
            if args.sroie is not None and not args.no_ocr:
                run_sroie(client, args.sroie, models, units, args.sroie_part)
    return 0


if __name__ == "__main__":
    sys.exit(main())
