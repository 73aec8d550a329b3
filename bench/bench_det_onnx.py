"""Throughput of every MMOCR detector: torch vs its ONNX export on onnxruntime, CPU, one thread.

Each network gets the oracle's fixed weights where the oracle has them (random BN statistics
would make activations explode; the DCNv2 net reuses DBNet++'s weights with zero offsets),
is exported with ocrserve's exporter, and both runtimes run the same 1x3x736x1280 input
side by side: one warm-up each, then N interleaved rounds (torch, ORT, torch, ORT, ...);
the medians of CPU time are compared. torch runs the way the torch runtime serves it (TorchRunner:
eval, inference_mode, BatchNorm folded into the convolutions); ORT the way OnnxRunner does (intra-op 1, all graph optimisations).

    .venv/bin/python bench/bench_det_onnx.py [--repeats 5] [--arch NAME ...] [--out bench/RESULTS-det-onnx.md]
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handlers.families.mmocr import MODEL_BUILDERS, build_model  # noqa: E402
from handlers.families.mmocr.fuse import fold_batchnorm  # noqa: E402
from service.tooling.export.det_onnx import export_onnx  # noqa: E402
from handlers.runtime import OnnxRunner, TorchRunner  # noqa: E402

ORACLE = REPO.parent / "shared" / "oracle"
TARGET_RATIO = 1.2
SHAPE = (1, 3, 736, 1280)
#: configs without their own oracle weights -> the config whose weights they load (non-strict).
WEIGHTS_FROM = {"dbnetpp_resnet50-dcnv2_fpnc_1200e_icdar2015": "dbnetpp_resnet50_fpnc_1200e_icdar2015"}


def oracle_weights(arch: str) -> dict[str, torch.Tensor] | None:
    """The oracle's state_dict for `arch` (or its WEIGHTS_FROM stand-in); None when absent."""
    name = WEIGHTS_FROM.get(arch, arch)
    keys = ORACLE / "models" / f"{name}.keys.txt"
    if not keys.is_file():
        return None
    sys.path.insert(0, str(ORACLE / "tools"))
    from oracle_weights import regenerate_state_dict

    return regenerate_state_dict(str(keys), str(ORACLE / "models" / f"{name}.buffers.pt"))


def prepare(arch: str, workdir: Path) -> tuple[TorchRunner, TorchRunner, OnnxRunner, str]:
    """The runners of `arch` with the same weights (torch as served, torch without BatchNorm
    folding, ORT), and where the weights came from."""
    torch.manual_seed(0)
    model = build_model(arch)
    state = oracle_weights(arch)
    source = "random (seed 0)"
    if state is not None:
        missing, unexpected = model.load_state_dict(state, strict=arch not in WEIGHTS_FROM)
        source = f"oracle {WEIGHTS_FROM.get(arch, arch)}" + (f" (+{len(missing)} zero-init keys)" if missing else "")
    checkpoint = workdir / f"{arch}.pth"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    onnx_path = workdir / f"{arch}.onnx"
    export_onnx(arch, checkpoint, onnx_path)
    unfolded = copy.deepcopy(model).eval()
    fold_batchnorm(model.eval())  # as the torch runtime serves it (mmocr_det.load_torch_runner)
    return (TorchRunner(model, threads=1), TorchRunner(unfolded, threads=1),
            OnnxRunner(onnx_path, threads=1), source)


def time_pair(torch_runner: TorchRunner, unfolded: TorchRunner, ort_runner: OnnxRunner,
              batch: np.ndarray, repeats: int) -> dict[str, float]:
    """Median CPU and wall ms of torch (served, and unfolded) and ORT over interleaved rounds
    after one warm-up each.

    CPU time (time.process_time; both runtimes compute on this one thread) is what the ratio
    uses: on a shared machine it moves far less than wall time. Also the max abs difference.
    """
    first_t = torch_runner.outputs(batch)
    first_o = ort_runner.outputs(batch)
    unfolded.outputs(batch)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(first_t, first_o))
    times: dict[str, list[float]] = {f"{k}_{m}": [] for k in ("torch", "unfolded", "ort") for m in ("cpu", "wall")}
    for _ in range(repeats):
        for key, run in (("torch", torch_runner.outputs), ("unfolded", unfolded.outputs),
                         ("ort", ort_runner.outputs)):
            cpu, wall = time.process_time(), time.perf_counter()
            run(batch)
            times[f"{key}_cpu"].append((time.process_time() - cpu) * 1000)
            times[f"{key}_wall"].append((time.perf_counter() - wall) * 1000)
    result = {key: statistics.median(values) for key, values in times.items()}
    result["diff"] = diff
    return result


def markdown(rows: list[dict], repeats: int, load: tuple[float, ...], end_load: tuple[float, ...],
             seconds: float) -> str:
    lines = [
        "# MMOCR detectors: torch vs ONNX Runtime (CPU, one thread)",
        "",
        f"`bench/bench_det_onnx.py`, input {'x'.join(map(str, SHAPE))}, one warm-up then {repeats} "
        f"interleaved rounds, medians. torch {torch.__version__} (inference_mode, BatchNorm folded, 1 thread), "
        f"onnxruntime {ort_version()} (intra-op 1, ORT_ENABLE_ALL), {os.cpu_count()} CPUs.",
        f"Load average at the start: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min), "
        f"at the end: {end_load[0]:.2f} / {end_load[1]:.2f} / {end_load[2]:.2f}; run took {seconds:.0f} s. "
        "The machine is shared, so the ratio uses CPU time (process_time, both runtimes compute on "
        "the calling thread), measured side by side; wall times are for reference.",
        "",
        "| family (config) | weights | torch CPU ms | ORT CPU ms | torch/ORT | target <= 1.2 | "
        "torch without BN folding, CPU ms | its ratio | torch wall ms | ORT wall ms | max abs diff |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = r["torch_cpu"] / r["ort_cpu"]
        ok = "ok" if ratio <= TARGET_RATIO else "over"
        lines.append(f"| {r['arch']} | {r['weights']} | {r['torch_cpu']:.0f} | {r['ort_cpu']:.0f} | "
                     f"{ratio:.2f} | {ok} | {r['unfolded_cpu']:.0f} | {r['unfolded_cpu'] / r['ort_cpu']:.2f} | "
                     f"{r['torch_wall']:.0f} | {r['ort_wall']:.0f} | {r['diff']:.1e} |")
    return "\n".join(lines) + "\n"


def ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="*", default=sorted(MODEL_BUILDERS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS-det-onnx.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load, start = os.getloadavg(), time.perf_counter()
    batch = np.random.default_rng(1).standard_normal(SHAPE).astype(np.float32)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-det-onnx-") as tmp:
        for arch in args.arch:
            torch_runner, unfolded, ort_runner, source = prepare(arch, Path(tmp))
            row = {"arch": arch, "weights": source,
                   **time_pair(torch_runner, unfolded, ort_runner, batch, args.repeats)}
            rows.append(row)
            print(f"{arch:48s} CPU ms: torch {row['torch_cpu']:7.0f}  ORT {row['ort_cpu']:7.0f}  "
                  f"ratio {row['torch_cpu'] / row['ort_cpu']:5.2f}  (wall {row['torch_wall']:.0f} / "
                  f"{row['ort_wall']:.0f})  unfolded ratio {row['unfolded_cpu'] / row['ort_cpu']:5.2f}  "
                  f"diff {row['diff']:.1e}", flush=True)
            del torch_runner, unfolded, ort_runner
    text = markdown(rows, args.repeats, load, os.getloadavg(), time.perf_counter() - start)
    print(text)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
