"""KIE on the real WildReceipt sample, two ways in one run, through the gateway's routes with the
zoo's default models in-process (LocalBackend, one thread):

* ground truth: `POST /kie` with the annotated boxes and texts (what `ocrserve train kie
  --eval-only` measures, here through the serving path);
* full path: `POST /ocr?kie=<model>`, the boxes and texts our own OCR finds. Each annotated box
  takes the label of the OCR line that covers most of it (intersection / box area >= 0.5); a
  box no line covers counts as predicted `Ignore` (a miss, never a false positive).

Both print MMOCR's WildReceipt macro-F1 (12 value classes, classes absent on both sides count 0)
and the F1 of store name, address, date and total.

    .venv/bin/python bench/kie_real_receipts.py [--data DIR] [--model sdmgr]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from handlers.families.kie.metrics import kie_f1  # noqa: E402
from service.backends import LocalBackend  # noqa: E402
from service.kie_training.evaluate import WILDRECEIPT_CLASSES, ignored_classes_for, per_class_scores  # noqa: E402
from service.main import create_app  # noqa: E402
from service.metrics import _intersection_area, _polygon, _valid  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.zoo import load_zoo  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "mmocr" / "main" / "kie_toy_dataset" / "wildreceipt"
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


def report(name: str, preds: list[list[int]], gts: list[list[int]]) -> None:
    ignored = ignored_classes_for(WILDRECEIPT_CLASSES)
    f1 = kie_f1(preds, gts, len(WILDRECEIPT_CLASSES), mode=["macro", "micro"], ignored_classes=ignored)
    per = per_class_scores(preds, gts, WILDRECEIPT_CLASSES)
    fields = "  ".join(f"{f.removesuffix('_value')} {per[f]['f1']:.2f} ({per[f]['support']})" for f in FIELDS)
    print(f"{name:<22} macro-F1 {f1['macro_f1']:.4f}  micro-F1 {f1['micro_f1']:.4f}  {fields}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--ann", default="data.txt")
    parser.add_argument("--model", default="sdmgr")
    args = parser.parse_args()
    if not (args.data / args.ann).is_file():
        print(f"no annotations at {args.data / args.ann}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    zoo = load_zoo(REPO / "model_store" / "zoo.yaml")
    app = create_app(Settings(), backend=LocalBackend(zoo))
    docs = [json.loads(line) for line in (args.data / args.ann).read_text().splitlines() if line.strip()]
    gts, from_gt, from_ocr = [], [], []
    with TestClient(app) as client:
        for doc in docs:
            image = (args.data / Path(doc["file_name"]).name).read_bytes()
            boxes = [a["box"] for a in doc["annotations"]]
            gts.append([a["label"] for a in doc["annotations"]])
            body = {"instances": [{"box": a["box"], "text": a["text"]} for a in doc["annotations"]],
                    "width": doc["width"], "height": doc["height"], "model": args.model}
            response = client.post("/kie", json=body)
            response.raise_for_status()
            from_gt.append([i["label_id"] for i in response.json()["instances"]])
            start = time.perf_counter()
            response = client.post(f"/ocr?kie={args.model}", files={"file": ("r.jpg", image, "image/jpeg")})
            response.raise_for_status()
            seconds = time.perf_counter() - start
            instances = response.json()["pages"][0]["result"]
            labels, covered = cover_labels(boxes, instances)
            from_ocr.append(labels)
            print(f"{Path(doc['file_name']).name}: {len(boxes)} annotated boxes, {len(instances)} OCR lines, "
                  f"{covered} boxes covered by a line; /ocr?kie {seconds:.1f} s")
    report("ground-truth boxes", from_gt, gts)
    report(f"/ocr?kie={args.model}", from_ocr, gts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
