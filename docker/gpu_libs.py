#!/usr/bin/env python3
"""Check, without a GPU, that the CUDA parts of torch and onnxruntime-gpu in this image resolve
every shared library they link against from the pip-installed nvidia-* packages, except the
driver's libcuda.so.1 (the NVIDIA container toolkit mounts it at `docker run --gpus`).

Prints one JSON object (libraries checked, what is missing, sizes) and exits 1 when anything but
libcuda.so.1 is missing, when a library is there twice (one copy of the CUDA libraries: the same
file name in two nvidia-* folders, e.g. cu12 and cu13 packages side by side), or there is nothing
to check. Standard library only.
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import sysconfig

DRIVER = {"libcuda.so.1"}


def _mib(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files if not os.path.islink(os.path.join(root, f)))
    return round(total / 2**20)


def main() -> int:
    site = sysconfig.get_paths()["purelib"]
    lib_dirs = sorted({os.path.dirname(p) for p in glob.glob(f"{site}/nvidia/**/*.so*", recursive=True)})
    targets = sorted(glob.glob(f"{site}/onnxruntime/capi/libonnxruntime_providers_cuda.so")
                     + glob.glob(f"{site}/torch/lib/libtorch_cuda.so"))
    env = {**os.environ, "LD_LIBRARY_PATH": ":".join(lib_dirs)}
    missing = {}
    for target in targets:
        out = subprocess.run(["ldd", target], env=env, capture_output=True, text=True).stdout
        missing[os.path.basename(target)] = sorted(line.split()[0] for line in out.splitlines() if "not found" in line)
    copies: dict[str, list[str]] = {}
    for path in glob.glob(f"{site}/nvidia/**/*.so*", recursive=True):
        copies.setdefault(os.path.basename(path), []).append(os.path.relpath(os.path.dirname(path), site))
    twice = {name: dirs for name, dirs in sorted(copies.items()) if len(dirs) > 1}
    ok = len(targets) == 2 and all(set(m) <= DRIVER for m in missing.values()) and not twice
    print(json.dumps({"ok": ok, "checked": [os.path.relpath(t, site) for t in targets], "missing": missing, "twice": twice,
                      "nvidia_lib_dirs": len(lib_dirs), "nvidia_mib": _mib(f"{site}/nvidia"),
                      "torch_mib": _mib(f"{site}/torch"), "onnxruntime_mib": _mib(f"{site}/onnxruntime")}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
