"""Time `ocrserve archive --arch --checkpoint` for one MMOCR checkpoint, in one or more checkouts.

    PYTHONPATH=$PWD .venv/bin/python bench/archive_build.py [--arch A] [--repeat 3] [ROOT ...]

Each ROOT (default: this checkout) runs its own `python -m <its cli> archive ...` in a fresh
process (CLI start-up, registry, hashing, staging, torch-model-archiver: what a user waits for),
rounds interleaved so the machine's noise falls on every checkout alike. The checkpoint is the
MMOCR oracle's weights for the config, regenerated from ../shared/oracle (ResNet-50 DBNet++ by
default: ~100 MB, so hashing shows).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ORACLE = REPO.parent / "shared" / "oracle"


def checkpoint(arch: str, out: Path) -> Path:
    import torch

    sys.path.insert(0, str(ORACLE / "tools"))
    from oracle_weights import regenerate_state_dict

    state = regenerate_state_dict(str(ORACLE / "models" / f"{arch}.keys.txt"),
                                  str(ORACLE / "models" / f"{arch}.buffers.pt"))
    torch.save({"state_dict": state}, out)
    return out


def cli_module(root: Path) -> str:
    """The CLI's module in that checkout (issue 10 moved it into service/tooling/)."""
    for path in ("service/tooling/cli.py", "service/cli.py"):
        if (root / path).is_file():
            return path.removesuffix(".py").replace("/", ".")
    raise SystemExit(f"{root}: no ocrserve CLI found")


def one(root: Path, arch: str, ckpt: Path, work: Path) -> float:
    zoo = work / "zoo.yaml"
    shutil.copy(root / "model_store" / "zoo.yaml", zoo)
    store = work / "store"
    cmd = [str(REPO / ".venv" / "bin" / "python"), "-c", f"import sys; from {cli_module(root)} import main; "
           "sys.exit(main())", "--zoo", str(zoo), "archive", "--arch", arch, "--checkpoint", str(ckpt),
           "--name", "benchdet", "--store", str(store)]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HOME": str(work)},
                   check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="*", type=Path, default=[REPO])
    parser.add_argument("--arch", default="dbnetpp_resnet50_fpnc_1200e_icdar2015")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ocrserve-archive-bench-") as tmp:
        ckpt = checkpoint(args.arch, Path(tmp) / "model.pth")
        print(f"{args.arch}: checkpoint {ckpt.stat().st_size / 2**20:.1f} MiB")
        times: dict[Path, list[float]] = {root: [] for root in args.roots}
        for round_ in range(args.repeat):
            for root in args.roots:
                work = Path(tmp) / f"{root.name}-{round_}"
                work.mkdir()
                times[root].append(one(root.resolve(), args.arch, ckpt, work))
        print(f"{'checkout':<40} {'median s':>9} {'runs':>24}")
        for root, runs in times.items():
            print(f"{str(root):<40} {statistics.median(runs):9.2f} {' '.join(f'{t:.2f}' for t in runs):>24}")


if __name__ == "__main__":
    main()
