"""`ocrserve train rec` on ICDAR 2015: the data split, and the before / after figures.

  prepare  cut word crops (the pipeline's own crop) into label.txt folders under --work:
           ic15_train / ic15_dev: the `val` part of bench/scene_text_levers.py's split (seed 13,
             500 photos), its photos split again by sha1 (seed 14) 90 / 10 into train and dev;
           ic15_det_train / ic15_det_dev: the same `val` part split as the photo detector's
             (bench/det_ic15_split.py: its first 100 photos are dev, the other 408 train), so that a
             recogniser for the photo route is chosen on photos neither model trained on;
           ic15_test: the `test` part (500 photos; report only, never tuned on);
           replay_wildreceipt: the annotated boxes of the WildReceipt receipts with an image
             (their texts are not used: `train rec --replay` relabels them with the original model);
           docs_sroie: the text lines of the 32 SROIE receipts with an image (the forgetting check;
             never trained on);
           with --det-lists DIR (bench/det_ic15_split.py --test-share's lists): ic15_more_train, the
             photos of DIR/train.txt (some of part `test` among them), and ic15_held, those of
             DIR/test_held.txt (the part of `test` still held out).
  measure  for each recogniser (zoo names, or --candidate FILE.onnx served as `candidate` with the
           config of ppocrv6-small-rec): word accuracy on the ic15_test / ic15_det_dev / docs_sroie crops,
           character error rate of Tesseract's phototest / eurotext pages through /ocr, and ICDAR
           2015 word-level detection hmean and end-to-end F through /ocr on the first --n photos of
           the test part (the same measurement as scene_text_levers.py).

    .venv/bin/python bench/rec_finetune.py prepare --work /tmp/rec_ft [--det-lists /tmp/ic15_more]
    .venv/bin/python bench/rec_finetune.py measure --work /tmp/rec_ft --candidate /tmp/rec_ft/run/rec.onnx
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import json  # noqa: E402

from service.tooling.evaluation.dataset_convert import write_crops  # noqa: E402
from service.tooling.evaluation.datasets import GtWord  # noqa: E402
from service.tooling.evaluation.det_formats import DetImage  # noqa: E402
from service.tooling.training.kie.real_data import split_of  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
IC15 = SHARED / "icdar2015_train"
DEV_SPLIT = (("train", 0.9), ("dev", 0.1))
BASE = "ppocrv6-small-rec"
DET_DEV = 100  # bench/det_ic15_split.py's default: the dev photos of dbnet-ic15
DEV = "ic15_det_dev"  # the dev crops `measure` reports (the zoo model was chosen on them)


def _ic15(part: str) -> list[DetImage]:
    from bench.scene_text_levers import samples

    return [DetImage(path, words) for path, words in samples(IC15, part, 13, 10_000)]


def _wildreceipt() -> list[DetImage]:
    root = SHARED / "wildreceipt_subset"
    images = []
    for line in (root / "annotations.txt").read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line.strip() else None
        if record and (root / record["file_name"]).is_file():
            words = [GtWord([float(v) for v in a["box"]], a["text"], False) for a in record["annotations"]]
            images.append(DetImage(root / record["file_name"], words))
    return images


def _sroie() -> list[DetImage]:
    root = SHARED / "sroie2019_train"
    images = []
    for image in sorted((root / "img").glob("*.jpg")):
        words = []
        for row in (root / "box" / f"{image.stem}.csv").read_text(encoding="utf-8", errors="replace").splitlines():
            parts = row.split(",", 8)
            if len(parts) == 9 and parts[8].strip():
                words.append(GtWord([float(v) for v in parts[:8]], parts[8].strip(), False))
        images.append(DetImage(image, words))
    return images


def prepare(work: Path, det_lists: Path | None) -> None:
    val, test = _ic15("val"), _ic15("test")
    parts = {"ic15_train": [d for d in val if split_of(d.image.name, 14, DEV_SPLIT) == "train"],
             "ic15_dev": [d for d in val if split_of(d.image.name, 14, DEV_SPLIT) == "dev"],
             "ic15_det_train": val[DET_DEV:], "ic15_det_dev": val[:DET_DEV],
             "ic15_test": test, "replay_wildreceipt": _wildreceipt(), "docs_sroie": _sroie()}
    if det_lists is not None:
        def listed(name: str) -> set[str]:
            return set((det_lists / name).read_text(encoding="utf-8").split())

        train, held = listed("train.txt"), listed("test_held.txt")
        parts |= {"ic15_more_train": [d for d in val + test if d.image.name in train],
                  "ic15_held": [d for d in test if d.image.name in held]}
    for name, images in parts.items():
        count = write_crops(images, work / name)
        print(f"{name}: {len(images)} images, {count} crops -> {work / name}/label.txt", flush=True)


def _zoo_file(work: Path, candidate: Path | None) -> Path:
    """The zoo manifest, plus `candidate` (the config of ppocrv6-small-rec) when given, written
    under `work` so that the gateway and the backend both know it."""
    import yaml

    from service.tooling.packaging.weights import sha256_of

    path = REPO / "model_store" / "zoo.yaml"
    if candidate is None:
        return path
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["models"]["candidate"] = {**raw["models"][BASE], "weights": {
        "package": "local", "version": "candidate", "path": str(candidate.resolve()), "sha256": sha256_of(candidate)}}
    out = work / "zoo-candidate.yaml"
    out.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return out


def _crop_accuracy(backend, model: str, folder: Path) -> dict:
    from service.tooling.training.rec.data import read_crops
    from service.tooling.evaluation.metrics import recognition_metrics

    crops = read_crops(folder / "label.txt", "label-txt")
    reads = backend.handler(model).model([c.image for c in crops])
    return {"crops": len(crops), **recognition_metrics([r.text for r in reads], [c.text for c in crops])}


def measure(work: Path, models: list[str], candidate: Path | None, n: int) -> None:
    import torch
    from fastapi.testclient import TestClient

    from bench.scene_text_levers import samples
    from service.gateway.main import create_app
    from service.gateway.settings import Settings
    from service.tooling.evaluation.evaluation import evaluate_documents, evaluate_end_to_end
    from service.tooling.local_backend import LocalBackend

    from service.gateway.zoo import load_zoo

    torch.set_num_threads(1)
    zoo_file = _zoo_file(work, candidate)
    backend = LocalBackend(load_zoo(zoo_file))
    photos = samples(IC15, "test", 13, n)
    pages = [(SHARED / "tesseract" / "testing" / f"{p}.tif", (SHARED / "tesseract" / "testing" / f"{p}.txt")
              .read_text(encoding="utf-8")) for p in ("phototest", "eurotext")]
    rows = []
    parts = ("ic15_test", DEV, "docs_sroie") + (("ic15_held",) if (work / "ic15_held").is_dir() else ())  # --det-lists
    with TestClient(create_app(Settings(zoo_path=zoo_file), backend=backend)) as client:
        for model in models:
            start = time.perf_counter()
            row = {"model": model}
            for part in parts:
                row[part] = _crop_accuracy(backend, model, work / part)
                print(json.dumps({"model": model, part: row[part]}), flush=True)

            def ocr(image: bytes, model=model) -> dict:
                response = client.post("/ocr", params={"rec": model}, files={"file": ("i.jpg", image, "image/jpeg")})
                response.raise_for_status()
                return response.json()

            row["pages"] = evaluate_documents(pages, ocr)
            report = evaluate_end_to_end(photos, ocr)
            row["det_hmean"], row["e2e_f"] = report["det_word"]["hmean"], report["e2e"]["hmean"]
            row["seconds"] = round(time.perf_counter() - start, 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\nICDAR 2015 train, test part (seed 13): the crops of all its photos; /ocr?rec=MODEL on the first "
          f"{len(photos)} (the detector as the zoo routes photos)\n")
    print("| rec model | test crops word acc (ignore case) | test 1-N.E.D | dev word acc (ignore case) | "
          "SROIE lines word acc (ignore case) | SROIE 1-N.E.D | CER phototest / eurotext | det hmean | e2e F |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        t, d, s = r["ic15_test"], r[DEV], r["docs_sroie"]
        print(f"| {r['model']} | {t['word_acc']:.4f} ({t['word_acc_ignore_case']:.4f}) | {t['1-N.E.D']:.4f} | "
              f"{d['word_acc']:.4f} ({d['word_acc_ignore_case']:.4f}) | {s['word_acc']:.4f} ({s['word_acc_ignore_case']:.4f}) | {s['1-N.E.D']:.4f} | "
              f"{r['pages']['cer_phototest']:.4f} / {r['pages']['cer_eurotext']:.4f} | "
              f"{r['det_hmean']:.3f} | {r['e2e_f']:.3f} |")
    if "ic15_held" in parts:
        print("\nThe crops of the part of `test` still held out (ic15_held):\n\n| rec model | word acc (ignore case) "
              "| 1-N.E.D |\n|---|---|---|")
        for r in rows:
            h = r["ic15_held"]
            print(f"| {r['model']} | {h['word_acc']:.4f} ({h['word_acc_ignore_case']:.4f}) | {h['1-N.E.D']:.4f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["prepare", "measure"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/rec_ft"))
    parser.add_argument("--models", default=BASE, help="comma list of zoo recognisers to measure")
    parser.add_argument("--candidate", type=Path, default=None, help="an exported rec.onnx, measured as `candidate`")
    parser.add_argument("--n", type=int, default=100, help="test photos through /ocr")
    parser.add_argument("--det-lists", type=Path, help="prepare: also the crops of bench/det_ic15_split.py "
                        "--test-share's train.txt and test_held.txt in this folder")
    args = parser.parse_args()
    if not (IC15 / "images").is_dir():
        print(f"no ICDAR 2015 photos at {IC15 / 'images'}", file=sys.stderr)
        return 2
    if args.command == "prepare":
        prepare(args.work, args.det_lists)
    else:
        models = [m for m in args.models.split(",") if m] + (["candidate"] if args.candidate else [])
        measure(args.work, models, args.candidate, args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
