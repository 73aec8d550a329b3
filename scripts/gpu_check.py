#!/usr/bin/env python3
"""One-shot GPU check: every native (PyTorch) model family on a CUDA device against the CPU, then
throughput. Written for a one-GPU machine with Python 3.12 and a CUDA torch but no Java, no
TorchServe and no internet; runs anywhere with `--device cpu` (then CPU is compared with CPU).

    python scripts/gpu_check.py [--device cuda:0] [--shared ../shared] [--quick] [--json out.json]

1. Parity. Each detector, recogniser and KIE family is built twice from the same checkpoint through
   the in-process pipeline's LocalBackend (handlers/families, as the workers build it): on the CPU
   and on --device. The rules are the oracle tests' (tests/oracle.py): raw network
   outputs within RTOL (1e-4) of the magnitude (`rel_err`), polygons one-to-one within 1 px
   (`match_polygons`), recognised texts and KIE labels equal. TF32 is switched off for this part
   (cuDNN's default TF32 convolutions alone differ by ~1e-3), and back on for the timings.
   Checkpoints: the MMOCR oracle's regenerated weights (--shared/oracle) and the zoo's SDMG-R (in
   the repository). The onnxruntime families (the zoo's PP-OCR models) are compared only when
   onnxruntime has the CUDA provider; otherwise the report says they were skipped.
2. Throughput at batch 1 / 8 / 32: detection (DBNet R18 network on 640x640 tensors) and
   recognition (CRNN and SVTR, read through the recogniser, crops of the shared IC15 words).
3. End to end: images/s of the pipeline (run_ocr: detect, crop, read) on the shared IC15 photos
   with DBNet R18 + CRNN on the torch runtime (oracle weights: the texts are not meaningful, the
   work per image is the real one).

Needs beyond torch: numpy, opencv-python-headless, pyyaml, pydantic, shapely, pyclipper, pytest
(for the oracle helpers), all small wheels except OpenCV (present on the GPU machines). Exit 1 when
a parity check fails.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from handlers.ops.image_io import DEFAULT_MAX_PIXELS  # noqa: E402

DETECTORS = ["dbnet_resnet18_fpnc_1200e_icdar2015", "dbnetpp_resnet50_fpnc_1200e_icdar2015",
             "panet_resnet18_fpem-ffm_600e_icdar2015", "psenet_resnet50_fpnf_600e_icdar2015",
             "fcenet_resnet50_fpn_1500e_icdar2015", "textsnake_resnet50_fpn-unet_1200e_ctw1500",
             "drrg_resnet50_fpn-unet_1200e_ctw1500", "mask-rcnn_resnet50_fpn_160e_icdar2015"]
RECOGNISERS = ["crnn_mini-vgg_5e_mj", "svtr-small_20e_st_mj", "sar_resnet31_parallel-decoder_5e_st-sub_mj-sub_sa_real",
               "satrn_shallow-small_5e_st_mj", "nrtr_resnet31-1by16-1by8_6e_st_mj",
               "robustscanner_resnet31_5e_st-sub_mj-sub_sa_real", "abinet-vision_20e_st-an_mj",
               "master_resnet31_12e_st_mj_sa", "aster_resnet45_6e_st_mj"]
QUICK_DETECTORS = DETECTORS[:1] + DETECTORS[2:3]
QUICK_RECOGNISERS = RECOGNISERS[:2]


def say(text: str = "") -> None:
    print(text, flush=True)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str, min_s: float = 1.0, max_runs: int = 20) -> float:
    """Median seconds per call after two warm-up calls."""
    fn(), fn()
    sync(device)
    runs, spent = [], 0.0
    while len(runs) < 3 or (spent < min_s and len(runs) < max_runs):
        start = time.perf_counter()
        fn()
        sync(device)
        runs.append(time.perf_counter() - start)
        spent += runs[-1]
    return statistics.median(runs)


class Models:
    """A private zoo (the repository's plus one local entry per oracle checkpoint) and a
    LocalBackend per device, i.e. the in-process pipeline's own loading path."""

    def __init__(self, shared: Path, work: Path, names: list[str]):
        from handlers.registry import family_of_arch
        from service.tooling.packaging.weights import sha256_of
        from service.gateway.zoo import LOCAL, ZooEntry, add_local_model, load_zoo

        sys.path.insert(0, str(shared / "oracle" / "tools"))
        from oracle_weights import regenerate_state_dict

        zoo_path = work / "zoo.yaml"
        zoo_path.write_text((REPO / "model_store" / "zoo.yaml").read_text())
        for arch in names:
            models = shared / "oracle" / "models"
            ckpt = work / f"{arch}.pth"
            torch.save({"state_dict": regenerate_state_dict(str(models / f"{arch}.keys.txt"),
                                                            str(models / f"{arch}.buffers.pt"))}, ckpt)
            family = family_of_arch(arch)
            add_local_model(ZooEntry.model_validate({
                "name": arch, "task": family.task, "family": family.name, "runtime": "torch", "description": arch,
                "weights": {"package": LOCAL, "version": "0", "path": str(ckpt), "sha256": sha256_of(ckpt)},
                "config": {"arch": arch}, "serving": {"workers": 1, "batch_size": 1, "max_batch_delay_ms": 0}}),
                zoo_path)
        self.zoo = load_zoo(zoo_path)
        self.backends: dict[str, object] = {}

    def backend(self, device: str):
        from service.tooling.local_backend import LocalBackend

        if device not in self.backends:
            self.backends[device] = LocalBackend(self.zoo, threads=max(1, (os.cpu_count() or 2) // 2), device=device)
        return self.backends[device]

    def model(self, name: str, device: str):
        return self.backend(device).handler(name).model


def _tf32(on: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def parity(models: Models, device: str, dets: list[str], recs: list[str], photo: np.ndarray,
           crops: list[np.ndarray]) -> list[tuple[str, bool, str]]:
    """[(model, ok, detail)]; CPU is the reference."""
    from handlers.predictors.mmocr_det import preprocess as det_preprocess
    from handlers.predictors.mmocr_rec import preprocess as rec_preprocess
    from tests.oracle import FLOOR as RTOL, match_polygons, rel_err

    rows = []
    for arch in dets:
        try:
            cpu, dev = models.model(arch, "cpu"), models.model(arch, device)
            detail, ok = [], True
            if not cpu.family.torch_only:
                tensor, _ = det_preprocess(photo, cpu.cfg)
                errs = [rel_err(torch.from_numpy(a), torch.from_numpy(b))
                        for a, b in zip(dev.runner.outputs(tensor), cpu.runner.outputs(tensor))]
                ok &= max(errs) <= RTOL
                detail.append(f"raw rel_err {max(errs):.1e}")
            ours, ref = dev(photo), cpu(photo)
            matched = match_polygons([d.polygon for d in ours], [d.polygon for d in ref], tol=1.0)
            same = len(ours) == len(ref) and all(i >= 0 for i in matched)
            ok &= same
            detail.append(f"{len(ref)} polygons, {sum(i >= 0 for i in matched)} within 1 px")
            rows.append((arch, ok, "; ".join(detail)))
        except Exception as exc:  # report every family, then fail
            rows.append((arch, False, f"{type(exc).__name__}: {exc}"))
    for arch in recs:
        try:
            cpu, dev = models.model(arch, "cpu"), models.model(arch, device)
            tensor, _ = rec_preprocess(crops[0], cpu.cfg.input)
            batch = tensor[None]
            with torch.inference_mode():
                a = dev.runner.module(torch.from_numpy(batch).to(str(dev.runner.device)))
                b = cpu.runner.module(torch.from_numpy(batch))
            from handlers.runtime import flatten_outputs

            errs = [rel_err(x.float().cpu(), y.float()) for x, y in zip(flatten_outputs(a), flatten_outputs(b))]
            ours, ref = dev(crops), cpu(crops)
            same_text = [o.text for o in ours] == [r.text for r in ref]
            ok = max(errs) <= RTOL and same_text
            rows.append((arch, ok, f"raw rel_err {max(errs):.1e}; {sum(o.text == r.text for o, r in zip(ours, ref))}"
                                   f"/{len(ref)} texts equal"))
        except Exception as exc:
            rows.append((arch, False, f"{type(exc).__name__}: {exc}"))
    return rows


def kie_parity(models: Models, device: str, shared: Path) -> tuple[str, bool, str]:
    receipts = shared / "data" / "mmocr" / "main" / "kie_toy_dataset" / "wildreceipt"
    record = json.loads((receipts / "data.txt").read_text(encoding="utf-8").splitlines()[0])
    image, annotations = (receipts / Path(record["file_name"]).name).read_bytes(), record["annotations"]
    body = {"instances": [{"box": a["box"], "text": a["text"]} for a in annotations]}
    name = models.zoo.defaults["kie"]
    try:
        got = {d: asyncio.run(models.backend(d).kie(name, image, None, body)) for d in ("cpu", device)}
        a, b = got[device].labels, got["cpu"].labels  # KIEResult (handlers/api/results.py)
        same = len(a) == len(b) > 0 and [x.label_id for x in a] == [y.label_id for y in b]
        worst = max(abs(x.score - y.score) for x, y in zip(a, b))
        return name, same and worst <= 1e-4, f"{sum(x.label_id == y.label_id for x, y in zip(a, b))}/{len(b)} labels equal, max score diff {worst:.1e}"
    except Exception as exc:
        return name, False, f"{type(exc).__name__}: {exc}"


def onnx_parity(models: Models, device: str, photo: np.ndarray, crops: list[np.ndarray]) -> list[tuple[str, bool | None, str]]:
    import onnxruntime

    if device.startswith("cuda") and "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        return [("zoo onnxruntime models (db, ctc, angle)", None,
                 f"skipped: onnxruntime {onnxruntime.__version__} has no CUDAExecutionProvider "
                 f"({', '.join(onnxruntime.get_available_providers())})")]
    from tests.oracle import match_polygons

    rows = []
    for task in ("det", "rec"):
        name = models.zoo.defaults[task]
        try:
            cpu, dev = models.model(name, "cpu"), models.model(name, device)
            if task == "det":
                ours, ref = dev(photo), cpu(photo)
                matched = match_polygons([d.polygon for d in ours], [d.polygon for d in ref], tol=1.0)
                ok = len(ours) == len(ref) and all(i >= 0 for i in matched)
                rows.append((name, ok, f"{len(ref)} polygons, {sum(i >= 0 for i in matched)} within 1 px"))
            else:
                same = [o.text for o in dev(crops)] == [r.text for r in cpu(crops)]
                rows.append((name, same, "texts equal" if same else "texts differ"))
        except Exception as exc:
            rows.append((name, False, f"{type(exc).__name__}: {exc}"))
    return rows


def throughput(models: Models, device: str, crops: list[np.ndarray], sizes=(1, 8, 32)) -> list[tuple[str, int, float]]:
    rows = []
    det = models.model(DETECTORS[0], device)
    for n in sizes:
        batch = np.random.default_rng(0).standard_normal((n, 3, 640, 640)).astype(np.float32)
        seconds = timed(lambda: det.runner.outputs(batch), device)
        rows.append((f"det {DETECTORS[0].split('_')[0]} 640x640 (network)", n, n / seconds))
    for arch in ("crnn_mini-vgg_5e_mj", "svtr-small_20e_st_mj"):
        if arch not in models.zoo.models:
            continue
        rec = models.model(arch, device)
        for n in sizes:
            chunk = (crops * (n // len(crops) + 1))[:n]
            seconds = timed(lambda: rec(chunk), device)
            rows.append((f"rec {arch.split('_')[0]} (read, per crop)", n, n / seconds))
    return rows


def end_to_end(models: Models, device: str, photos: list[bytes]) -> tuple[float, float]:
    from service.gateway.pipeline import OcrRequest, run_ocr

    backend = models.backend(device)
    request = OcrRequest(det=DETECTORS[0], rec=RECOGNISERS[0], cls=None, det_options={})
    loop = asyncio.new_event_loop()
    loop.run_until_complete(run_ocr(backend, photos[0], request, DEFAULT_MAX_PIXELS))  # warm-up and load
    sync(device)
    start, lines = time.perf_counter(), 0
    for data in photos:
        lines += len(loop.run_until_complete(run_ocr(backend, data, request, DEFAULT_MAX_PIXELS))["pages"][0]["result"])
    sync(device)
    loop.close()
    return len(photos) / (time.perf_counter() - start), lines / len(photos)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shared", type=Path, default=next((p for p in (REPO / "shared", REPO.parent / "shared")
                                                             if p.is_dir()), REPO.parent / "shared"))
    parser.add_argument("--quick", action="store_true", help="2 detectors, 2 recognisers, 5 photos, batch 1/8")
    parser.add_argument("--photos", type=int, default=100, help="IC15 photos for the end-to-end figure")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    import cv2

    start = time.perf_counter()
    data = args.shared / "data"
    ic15 = sorted((data / "icdar2015_train" / "images").glob("img_*.jpg"), key=lambda p: int(p.stem[4:]))
    words = sorted((data / "mmocr" / "main" / "rec_toy_dataset" / "imgs").rglob("*.jpg"))
    if not ic15 or not words or not (args.shared / "oracle" / "models").is_dir():
        say(f"gpu_check: shared data missing under {args.shared} (data/icdar2015_train, "
            "data/mmocr/main/rec_toy_dataset, oracle/models)")
        return 2
    dets, recs = (QUICK_DETECTORS, QUICK_RECOGNISERS) if args.quick else (DETECTORS, RECOGNISERS)
    photos = [p.read_bytes() for p in ic15[: 5 if args.quick else args.photos]]
    photo = cv2.imread(str(ic15[0]))
    crops = [cv2.imread(str(p)) for p in words]

    import onnxruntime

    name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else platform.processor() or "cpu"
    say(f"gpu_check: device {args.device} ({name}); torch {torch.__version__} (CUDA {torch.version.cuda}); "
        f"onnxruntime {onnxruntime.__version__} {onnxruntime.get_available_providers()}; "
        f"Python {platform.python_version()}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
        models = Models(args.shared, Path(work), sorted(set(dets + recs + DETECTORS[:1] + ["crnn_mini-vgg_5e_mj", "svtr-small_20e_st_mj"])))
        _tf32(False)
        rows = parity(models, args.device, dets, recs, photo, crops) + [kie_parity(models, args.device, args.shared)]
        rows += onnx_parity(models, args.device, photo, crops)
        _tf32(True)
        say(f"\n## CUDA vs CPU ({args.device} against cpu; oracle rules, TF32 off)\n")
        say("| model | result | detail |\n|---|---|---|")
        for model, ok, detail in rows:
            say(f"| {model} | {'ok' if ok else 'skipped' if ok is None else 'FAIL'} | {detail} |")
        say(f"\n## Throughput on {args.device} (TF32 on, torch runtime)\n")
        say("| what | batch | items/s |\n|---|---|---|")
        sizes = (1, 8) if args.quick else (1, 8, 32)
        table = throughput(models, args.device, crops, sizes)
        for what, n, rate in table:
            say(f"| {what} | {n} | {rate:.1f} |")
        e2e, lines = end_to_end(models, args.device, photos)
        say(f"\nend to end (run_ocr, {DETECTORS[0]} + {RECOGNISERS[0]}, torch runtime): "
            f"{e2e:.2f} images/s over {len(photos)} IC15 photos ({lines:.1f} lines per photo)")
    took = time.perf_counter() - start
    say(f"gpu_check: {took:.0f} s")
    failed = [r for r in rows if r[1] is False]
    if args.json:
        args.json.write_text(json.dumps({"device": args.device, "name": name, "torch": torch.__version__,
                                         "parity": rows, "throughput": table, "e2e_images_per_s": e2e,
                                         "seconds": took}, indent=1))
    if failed:
        say(f"gpu_check: {len(failed)} parity check(s) FAILED: {', '.join(r[0] for r in failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
