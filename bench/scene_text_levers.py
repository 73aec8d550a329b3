"""Scene-text pipeline levers on ICDAR 2015 training photos, through `POST /ocr` with the zoo's
default models in-process (LocalBackend, one thread).

The 1,000 photos of `../shared/data/icdar2015_train` are split by sha1 of the file name and the
seed into `val` (50 %: tune here) and `test` (50 %: report only the chosen setting there, never
tune on it). `--n` takes the first N photos of the chosen part in file order. Each lever is one
set of `/ocr` options against the defaults; for each: word-level detection hmean (each line's
`words` against the word ground truth, one-to-one at IoU > 0.5, predictions mostly inside `###`
ignored: service.tooling.evaluation.metrics.hmean_iou) and end-to-end word-spotting F (service.tooling.evaluation.metrics.word_spotting:
box matched and text equal after case-folding and stripping punctuation at both ends), and the
mean seconds per image (noisy on a shared machine: compare within one run).

    .venv/bin/python bench/scene_text_levers.py --part val --n 100 [--levers default,side960]
        [--det dbnet-ic15 | --det /tmp/run/det.onnx]   # another zoo detector, or an ONNX file
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from service.tooling.local_backend import LocalBackend  # noqa: E402
from service.tooling.evaluation.datasets import read_icdar2015_gt  # noqa: E402
from service.tooling.evaluation.evaluation import evaluate_end_to_end  # noqa: E402
from service.tooling.training.kie.real_data import split_of  # noqa: E402
from service.gateway.main import create_app  # noqa: E402
from service.gateway.settings import Settings  # noqa: E402
from service.gateway.zoo import load_zoo  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "icdar2015_train"
SPLIT = (("val", 0.5), ("test", 0.5))
LEVERS: dict[str, dict] = {
    "default": {},
    "side960": {"limit_side_len": 960},
    "side1280": {"limit_side_len": 1280},
    "mask0.3": {"mask_thr": 0.3},
    "unclip1.6": {"unclip_ratio": 1.6},
    "unclip1.8": {"unclip_ratio": 1.8},
    "score0.6": {"min_text_score": 0.6},
    "no-cls": {"cls": "false"},
    "rec0.5": {"rec_min_score": 0.5},
    "side960+unclip1.6": {"limit_side_len": 960, "unclip_ratio": 1.6},
}


def samples(root: Path, part: str, seed: int, n: int) -> list[tuple[Path, list]]:
    images = sorted((root / "images").glob("img_*.jpg"), key=lambda p: int(p.stem.split("_")[1]))
    chosen = [p for p in images if split_of(p.name, seed, SPLIT) == part][:n]
    return [(p, read_icdar2015_gt(root / "gt" / f"gt_{p.stem}.txt")) for p in chosen]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--part", choices=[p for p, _ in SPLIT], default="val")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--det", default=None, help="zoo detector, or an .onnx file served like the "
                        "default detector (ocrserve train det's output); default: the zoo's default")
    parser.add_argument("--levers", default=",".join(LEVERS), help=f"comma list of {', '.join(LEVERS)}")
    args = parser.parse_args()
    if not (args.data / "images").is_dir():
        print(f"no ICDAR 2015 photos at {args.data / 'images'}", file=sys.stderr)
        return 2
    levers = args.levers.split(",")
    unknown = [lv for lv in levers if lv not in LEVERS]
    if unknown:
        print(f"unknown levers {unknown}; known: {', '.join(LEVERS)}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    data = samples(args.data, args.part, args.seed, args.n)
    zoo, det_model, settings = load_zoo(REPO / "model_store" / "zoo.yaml"), None, Settings()
    if args.det:
        import tempfile

        from service.tooling.training.det.zoo_entry import with_detector, write_zoo

        zoo, det_model = with_detector(zoo, args.det)
        settings = Settings(zoo_path=write_zoo(zoo, Path(tempfile.mkdtemp()) / "zoo.yaml"))
    app = create_app(settings, backend=LocalBackend(zoo))
    print(f"ICDAR 2015 train, part {args.part} (seed {args.seed}), {len(data)} photos, "
          f"detector {det_model or zoo.defaults['det']}\n")
    print("| lever | options | det P | det R | det hmean | e2e P | e2e R | e2e F | s/image |")
    print("|---|---|---|---|---|---|---|---|---|")
    with TestClient(app) as client:
        for name in levers:
            options = {**LEVERS[name], **({"det": det_model} if det_model else {})}

            def ocr(image: bytes) -> dict:
                response = client.post("/ocr", params=options, files={"file": ("i.jpg", image, "image/jpeg")})
                response.raise_for_status()
                return response.json()

            start = time.perf_counter()
            report = evaluate_end_to_end(data, ocr)
            seconds = (time.perf_counter() - start) / max(len(data), 1)
            det, e2e = report["det_word"], report["e2e"]
            print(f"| {name} | {options or '-'} | {det['precision']:.3f} | {det['recall']:.3f} | "
                  f"{det['hmean']:.3f} | {e2e['precision']:.3f} | {e2e['recall']:.3f} | {e2e['hmean']:.3f} | "
                  f"{seconds:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
