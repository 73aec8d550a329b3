"""CPU or CUDA: what this machine has, what set-up installs for it, how many GPUs TorchServe gets.

Standard library only: scripts/setup.sh runs it (`python -m service.tooling.launch.accel plan`) before any
package of the project is installed, and the gateway's `ocrserve run` uses it without torch.

The driver is detected with `nvidia-smi -L` (on PATH; the NVIDIA container toolkit puts it into
a `--gpus` container too). `OCRSERVE_DEVICE` = auto (default) | cpu | cuda overrides detection.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field

DEVICES = ("auto", "cpu", "cuda")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# CUDA 12 builds of torch are on PyTorch's index only; the default index's Linux torch 2.13.0 is a
# CUDA 13.0 build. Drivers: CUDA 13.x needs >= 580, CUDA 12.x >= 525 (minor-version compatibility).
TORCH_CUDA12_INDEX = "https://download.pytorch.org/whl/cu126"
# onnxruntime-gpu on the default index is a CUDA 13 build (1.31.1 requires nvidia-cuda-runtime~=13.0);
# ONNX Runtime publishes its CUDA 12 builds on its own feed.
ORT_CUDA12_INDEX = "https://aiinfra.pkgs.visualstudio.com/PublicPackages/_packaging/onnxruntime-cuda-12/pypi/simple/"
CUDA13_MIN_DRIVER = 580
CUDA12_MIN_DRIVER = 525


@dataclass(frozen=True)
class Gpus:
    """What `nvidia-smi` reported: GPU names and the driver's major version (None: no driver)."""

    names: tuple[str, ...] = ()
    driver_major: int | None = None


def detect_gpus(timeout: float = 10.0) -> Gpus:
    """GPUs seen by the NVIDIA driver; none when `nvidia-smi` is missing or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return Gpus()
    try:
        listed = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=timeout)
        version = subprocess.run([exe, "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return Gpus()
    if listed.returncode != 0:
        return Gpus()
    names = tuple(m.group(1).strip() for m in re.finditer(r"^GPU \d+: ([^(]+)", listed.stdout, re.M))
    major = re.match(r"\s*(\d+)\.", version.stdout) if version.returncode == 0 else None
    return Gpus(names, int(major.group(1)) if major else None)


def resolve_device(requested: str, gpus: Gpus) -> str:
    """'cpu' or 'cuda' for OCRSERVE_DEVICE `requested`; 'cuda' without a GPU is refused."""
    requested = (requested or "auto").strip().lower()
    if requested not in DEVICES:
        raise ValueError(f"OCRSERVE_DEVICE={requested!r}: use one of {', '.join(DEVICES)}")
    if requested == "auto":
        return "cuda" if gpus.names else "cpu"
    if requested == "cuda" and not gpus.names:
        raise ValueError("OCRSERVE_DEVICE=cuda but `nvidia-smi -L` lists no GPU (is the NVIDIA driver installed?)")
    return requested


def number_of_gpu(requested: str = "auto", gpus: Gpus | None = None) -> int:
    """TorchServe's `number_of_gpu`: every GPU on 'cuda', 0 on 'cpu' (no worker gets a gpu_id)."""
    gpus = detect_gpus() if gpus is None else gpus
    return len(gpus.names) if resolve_device(requested, gpus) == "cuda" else 0


@dataclass(frozen=True)
class InstallPlan:
    """What scripts/setup.sh installs: pip arguments for torch and the onnxruntime package."""

    device: str
    torch: list[str]
    onnxruntime: list[str]  # pip arguments, installed after the requirements (without onnxruntime)
    reason: str
    check_cpu_build: bool = False  # resolve first and refuse a CUDA torch (default index, CPU machine)
    notes: list[str] = field(default_factory=list)


def index_reachable(url: str, timeout: float = 5.0) -> bool:
    """True when `<url>/torch/` answers (PEP 503 page of PyTorch's index)."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/torch/", timeout=timeout) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def plan_install(torch_version: str, onnxruntime_version: str, env: dict[str, str] | None = None,
                 gpus: Gpus | None = None, reachable=index_reachable) -> InstallPlan:
    """The set-up's choice. `env` supplies OCRSERVE_DEVICE, OCRSERVE_TORCH_WHEEL (a local CPU
    wheel), OCRSERVE_TORCH_CPU_INDEX, OCRSERVE_TORCH_CUDA_INDEX and OCRSERVE_CUDA (12 | 13)."""
    env = dict(os.environ if env is None else env)
    gpus = detect_gpus() if gpus is None else gpus
    device = resolve_device(env.get("OCRSERVE_DEVICE", "auto"), gpus)
    pin = f"torch=={torch_version}"
    if device == "cuda":
        cuda = env.get("OCRSERVE_CUDA") or (
            "13" if gpus.driver_major is None or gpus.driver_major >= CUDA13_MIN_DRIVER else "12")
        if cuda not in ("12", "13"):
            raise ValueError(f"OCRSERVE_CUDA={cuda!r}: use 12 or 13")
        notes = []
        if gpus.driver_major is not None and gpus.driver_major < CUDA12_MIN_DRIVER:
            notes.append(f"driver {gpus.driver_major} is older than CUDA 12 needs ({CUDA12_MIN_DRIVER})")
        index = env.get("OCRSERVE_TORCH_CUDA_INDEX") or (TORCH_CUDA12_INDEX if cuda == "12" else "")
        torch = ["--index-url", index, pin] if index else [pin]
        ort = [f"onnxruntime-gpu=={onnxruntime_version}"]
        if cuda == "12":  # its other requirements (flatbuffers, numpy, packaging, protobuf) come first
            ort = ["--no-deps", "--index-url", env.get("OCRSERVE_ORT_CUDA_INDEX") or ORT_CUDA12_INDEX, *ort]
        return InstallPlan("cuda", torch, ort,
                           f"{len(gpus.names)} GPU(s) ({', '.join(gpus.names) or 'forced'}), driver "
                           f"{gpus.driver_major}: CUDA {cuda} torch and onnxruntime-gpu", notes=notes)
    ort = [f"onnxruntime=={onnxruntime_version}"]
    why = "no NVIDIA GPU" if env.get("OCRSERVE_DEVICE", "auto") in ("", "auto") else "OCRSERVE_DEVICE=cpu"
    if wheel := env.get("OCRSERVE_TORCH_WHEEL"):
        return InstallPlan("cpu", [wheel], ort, f"{why}: CPU torch from the local wheel {wheel}",
                           check_cpu_build=True)
    index = env.get("OCRSERVE_TORCH_CPU_INDEX") or TORCH_CPU_INDEX
    if reachable(index):
        return InstallPlan("cpu", ["--index-url", index, pin], ort, f"{why}: CPU torch from {index}")
    return InstallPlan("cpu", [pin], ort, f"{why}: {index} unreachable; torch from the default "
                       "index (and local wheels), refused if it resolves to a CUDA build",
                       check_cpu_build=True)


def cuda_packages(pip_report: dict) -> list[str]:
    """Names in a `pip install --dry-run --report` that mean a CUDA torch (nvidia-*, triton, +cuXXX)."""
    found = []
    for item in pip_report.get("install", []):
        meta = item.get("metadata", {})
        name, version = meta.get("name", "").lower(), meta.get("version", "")
        if name.startswith("nvidia-") or name == "triton" or re.search(r"\+cu\d+", version):
            found.append(f"{name}=={version}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="the set-up's choice; --shell prints variables for bash's eval")
    plan.add_argument("--torch", required=True)
    plan.add_argument("--onnxruntime", required=True)
    plan.add_argument("--shell", action="store_true")
    check = sub.add_parser("check-cpu-build", help="exit 3 when a pip --report (stdin) holds a CUDA torch")
    check.add_argument("report", nargs="?", default="-")
    sub.add_parser("gpus", help="number_of_gpu for OCRSERVE_DEVICE")
    args = parser.parse_args(argv)
    try:
        if args.command == "gpus":
            print(number_of_gpu(os.environ.get("OCRSERVE_DEVICE", "auto")))
            return 0
        if args.command == "check-cpu-build":
            text = sys.stdin.read() if args.report == "-" else open(args.report).read()
            if cuda := cuda_packages(json.loads(text)):
                print("setup: refusing a CUDA build of torch on a CPU machine (would install "
                      f"{', '.join(cuda)}); set OCRSERVE_TORCH_WHEEL to a CPU wheel or "
                      "OCRSERVE_TORCH_CPU_INDEX to a reachable CPU index", file=sys.stderr)
                return 3
            return 0
        chosen = plan_install(args.torch, args.onnxruntime)
    except ValueError as exc:
        print(f"setup: {exc}", file=sys.stderr)
        return 2
    if not args.shell:
        print(json.dumps(asdict(chosen), indent=2))
        return 0
    print(f"ACCEL_DEVICE={shlex.quote(chosen.device)}")
    print(f"ACCEL_TORCH=({' '.join(shlex.quote(a) for a in chosen.torch)})")
    print(f"ACCEL_ORT=({' '.join(shlex.quote(a) for a in chosen.onnxruntime)})")
    print(f"ACCEL_REASON={shlex.quote(chosen.reason)}")
    print(f"ACCEL_CHECK_CPU={int(chosen.check_cpu_build)}")
    print(f"ACCEL_NOTES={shlex.quote('; '.join(chosen.notes))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
