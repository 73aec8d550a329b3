"""`ocrserve bench`: gateway + TorchServe vs the in-process pipeline vs RapidOCR (bench/bench_service.py).

This module holds the command line and the printed report; the measuring is in bench/bench_service.py.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import signal
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType

from service.gateway.zoo import REPO_ROOT, Zoo, load_zoo

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
IMAGES = Path("mmocr") / "0.x" / "toy_dataset" / "imgs" / "test"
BENCH_FILE = REPO_ROOT / "bench" / "bench_service.py"
TARGET_CONCURRENCY, TARGET_A_BY_B, TARGET_A_BY_C = 4, 0.85, 1.0
STAGES = ("decode", "detect", "crop", "recognize", "words", "total")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `bench` on the main parser."""
    bench = sub.add_parser("bench", help="throughput/latency: gateway+TorchServe vs in-process vs RapidOCR")
    bench.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    bench.add_argument("--quick", action="store_true", help="about 2-3 minutes instead of about 6")
    bench.add_argument("--repeats", type=_positive, default=None,
                       help="passes over the images per configuration and concurrency (6; --quick 1)")
    bench.add_argument("--rounds", type=_positive, default=None,
                       help="interleaved rounds the passes are split in (3; --quick 1)")
    bench.add_argument("--concurrency", type=_positive, nargs="+", default=[1, 4], help="client threads (1 4)")
    bench.add_argument("--det-workers", type=_positive, default=None,
                       help="experiment: this many detector workers instead of the zoo's serving setting")
    bench.set_defaults(func=run_bench)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def load_bench_module() -> ModuleType:
    """bench/ is not an installed package: load bench_service.py from the checkout."""
    spec = importlib.util.spec_from_file_location("bench_service", BENCH_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def _image_number(path: Path) -> int:
    match = re.search(r"(\d+)$", path.stem)
    return int(match.group(1)) if match else -1


def read_images(data: Path) -> list[bytes] | None:
    """The toy ICDAR-2015 test images in img_N order, or None when the folder is missing."""
    folder = data / IMAGES
    paths = sorted(folder.glob("img_*.jpg"), key=_image_number) if folder.is_dir() else []
    return [p.read_bytes() for p in paths] or None


def run_bench(args: argparse.Namespace) -> int:
    """Check inputs, run the benchmark with everything stopped on exit, print the report."""
    images = read_images(args.data)
    if images is None:
        print(f"bench: no toy ICDAR-2015 images in {args.data / IMAGES} (the shared data folder is "
              "expected next to the repository; pass --data)", file=sys.stderr)
        return 2
    bench = load_bench_module()
    if not bench.RAPIDOCR_DIR.is_dir():
        print(f"bench: RapidOCR is not unpacked at {bench.RAPIDOCR_DIR}; run `ocrserve weights`", file=sys.stderr)
        return 2
    repeats = args.repeats or (1 if args.quick else 6)
    rounds = min(args.rounds or (1 if args.quick else 3), repeats)
    zoo = load_zoo(args.zoo)
    print_setup(zoo, bench, len(images), repeats, rounds, args)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    from ocrserve.progress import Progress

    concurrencies = sorted(set(args.concurrency))
    progress = Progress(len(concurrencies) * rounds * 4, "bench", bar=None)  # 4 configurations
    try:
        with progress:
            results = bench.run_benchmark(zoo, args.zoo, images, concurrencies, repeats, rounds,
                                          args.det_workers, done=lambda label: progress.step())
    except KeyboardInterrupt:
        print(f"bench: interrupted; processes left behind: {leftovers()}", file=sys.stderr)
        return 130
    except (RuntimeError, TimeoutError) as exc:  # TorchServe or the gateway did not come up
        print(f"bench: {exc}; processes left behind: {leftovers()}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    print_report(results, bench)
    print(f"\nran {time.monotonic() - started:.0f} s; load average now {os.getloadavg()[0]:.1f}; "
          f"processes left behind: {leftovers()}")
    return 0


def _interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def leftovers() -> str:
    """Processes of any benchmark TorchServe/gateway still alive (their command lines name our temp dir)."""
    import psutil

    found = [p.pid for p in psutil.process_iter(["cmdline"])
             if p.pid != os.getpid() and "ocrserve-bench-" in " ".join(p.info["cmdline"] or [])]
    return ", ".join(map(str, found)) or "none"


def print_setup(zoo: Zoo, bench: ModuleType, n_images: int, repeats: int, rounds: int,
                args: argparse.Namespace) -> None:
    """What runs where, and the CPU budget."""
    default = (zoo.defaults["det"], zoo.defaults["rec"])
    print(f"bench: {n_images} images x {repeats} passes = {n_images * repeats} timed requests per configuration "
          f"and concurrency, in {rounds} interleaved round(s); warm-up 2 x concurrency requests each")
    print(f"bench: {os.cpu_count()} CPU cores; load average {os.getloadavg()[0]:.1f} before starting")
    for pair in (bench.V4_PAIR, default):
        parts = []
        for name in pair:
            serving = zoo.get(name).serving
            workers = args.det_workers if args.det_workers and zoo.get(name).task == "det" else serving.workers
            parts.append(f"{name}: {workers} worker(s), batch {serving.batch_size}, "
                         f"delay {serving.max_batch_delay_ms} ms")
        print(f"bench: TorchServe for {'+'.join(pair)}: " + "; ".join(parts) + "; 1 ORT thread per worker")
    print("bench: gateway = 1 uvicorn process per TorchServe; (b) and (c) = one engine per client thread, "
          "1 ORT intra-op thread per session; cls off everywhere")


def _ratio(results: dict, conc: int, top: str, bottom: str) -> float | None:
    if conc not in results:
        return None
    res = results[conc][0]
    return res[top].throughput() / res[bottom].throughput()


def _round_ratios(res: dict, top: str, bottom: str) -> list[float]:
    """Throughput ratio in each interleaved round (both ran the same requests in it)."""
    return [b / a for a, b in zip(res[top].walls, res[bottom].walls)]


def _cpu_ratio(res: dict, top: str, bottom: str) -> float:
    return (res[top].cpu / len(res[top].latencies)) / (res[bottom].cpu / len(res[bottom].latencies))


def print_report(results: dict, bench: ModuleType) -> None:
    """Main table, ratios and targets, stage breakdown, TorchServe worker metrics, line counts."""
    print(f"\n{'config':<24}{'conc':>5}{'req':>6}{'img/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'CPU ms/img':>12}")
    for conc, (res, _) in results.items():
        for label, r in res.items():
            p50, p95 = _percentiles(r.latencies)
            print(f"{label:<24}{conc:>5}{len(r.latencies):>6}{r.throughput():>8.2f}{p50:>9.0f}{p95:>9.0f}"
                  f"{1000 * r.cpu / len(r.latencies):>12.0f}")
    print("(CPU = all processes doing the work: TorchServe + gateway for a, the benchmark process for b and c)\n")
    for conc in results:
        for other in (bench.B_V4, bench.C_V4):
            print(f"c={conc}: a/{other[0]} = {_ratio(results, conc, bench.A_V4, other):.2f}   per round: "
                  + " ".join(f"{v:.2f}" for v in _round_ratios(results[conc][0], bench.A_V4, other))
                  + f"   CPU per image {other[0]}/a = {_cpu_ratio(results[conc][0], other, bench.A_V4):.2f}")
    _print_target("a/b", _ratio(results, TARGET_CONCURRENCY, bench.A_V4, bench.B_V4), TARGET_A_BY_B)
    _print_target("a/c", _ratio(results, TARGET_CONCURRENCY, bench.A_V4, bench.C_V4), TARGET_A_BY_C)
    print_stages(results)
    print_workers(results)
    print_counts(results, bench)


def _print_target(name: str, value: float | None, target: float) -> None:
    verdict = "not measured" if value is None else ("met" if value >= target else "NOT MET")
    shown = "-" if value is None else f"{value:.2f}"
    print(f"target {name} >= {target:.2f} at c={TARGET_CONCURRENCY}: {verdict} ({shown})")


def print_stages(results: dict) -> None:
    """Mean ms per request of each pipeline stage as the engine reports it, and the client's view."""
    print(f"\nmean ms per request{'':<5}{'conc':>5}" + "".join(f"{s:>10}" for s in STAGES) + f"{'client':>9}")
    for conc, (res, _) in results.items():
        for label, r in res.items():
            cells = []
            for stage in STAGES:
                values = [t[stage] for t in r.timings if stage in t]
                cells.append(f"{_mean(values):>10.1f}" if values else f"{'-':>10}")
            print(f"{label:<24}{conc:>5}" + "".join(cells) + f"{_mean(r.latencies):>9.1f}")
    print("(a: the gateway's timings_ms; detect/recognize include the TorchServe round trip. "
          "client - total = HTTP + upload parsing in the gateway)")


def print_workers(results: dict) -> None:
    """TorchServe's own view: handler time per batch and frontend queue wait, timed requests only."""
    print(f"\n{'TorchServe worker':<34}{'conc':>5}{'requests':>9}{'batches':>8}{'handler ms':>11}{'queue ms':>9}")
    for conc, (_, metrics) in results.items():
        for label, models in metrics.items():
            for model, m in models.items():
                name = f"{label.split()[-1]}: {model}"
                print(f"{name:<34}{conc:>5}{len(m['queue']):>9}{len(m['predict']):>8}"
                      f"{_mean(m['predict']):>11.1f}{_mean(m['queue']):>9.1f}")


def print_counts(results: dict, bench: ModuleType) -> None:
    """Text lines per image, all concurrencies pooled; '?' marks an image whose count varied."""
    pooled: dict[str, dict[int, set]] = {}
    for res, _ in results.values():
        for label, r in res.items():
            for idx, found in r.counts.items():
                pooled.setdefault(label, {}).setdefault(idx, set()).update(found)
    print(f"\ntext lines per image (img_1..img_N); second row: lines with text_score >= {bench.TEXT_SCORE}")
    for label, per_image in pooled.items():
        for column, suffix in ((0, ""), (1, " >=0.5")):
            cells = [_cell({f[column] for f in per_image[i]}) for i in sorted(per_image)]
            if column == 0 or label != bench.C_V4:
                print(f"{label + suffix:<30}" + "".join(f"{c:>4}" for c in cells))
    same = pooled.get(bench.A_V4) == pooled.get(bench.B_V4)
    print(f"a and b (same ppocrv4 models) found the same lines on every image: {'yes' if same else 'NO'}"
          f"; RapidOCR (c) drops lines read below {bench.TEXT_SCORE}, so compare it with the >=0.5 rows")


def _percentiles(values: list[float]) -> tuple[float, float]:
    """p50 and p95, interpolated like numpy's default."""
    cuts = statistics.quantiles(values, n=20, method="inclusive") if len(values) > 1 else values * 19
    return cuts[9], cuts[18]


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def _cell(values: set[int]) -> str:
    return str(next(iter(values))) if len(values) == 1 else "?"
