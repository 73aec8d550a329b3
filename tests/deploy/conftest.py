"""Paths and helpers of the deployment checks (nothing here needs Docker, a cluster or the network)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any OCRSERVE_* setting of the caller, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCRSERVE_") and k != "POD_IP"}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    env["PYTHON"] = sys.executable
    env.update(extra)
    return env


def run(cmd: list[str], timeout: float = 60, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, env=clean_env(**extra_env), capture_output=True, text=True,
                          timeout=timeout)
