"""The built wheel in a fresh virtualenv outside the checkout: the client, the CLI and readtext
work against the session's gateway with only the client's dependencies installed."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from service.gateway.zoo import IN_REPO, load_zoo
from tests.conftest import REPO, data_path


def _run(cmd: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "OCRSERVE_HOME")}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the tracked files only, as a fresh clone would build it."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: cannot tell the tracked files")
    src = tmp_path_factory.mktemp("src")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        if (REPO / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, src / rel)
    out = tmp_path_factory.mktemp("dist")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                  str(src)], cwd=out)
    assert built.returncode == 0, built.stderr[-3000:]
    return next(out.glob("ocrserve-*.whl"))


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv (no system site-packages) with the wheel and its client dependencies."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    installed = _run([sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "install", "-q",
                      str(wheel)], cwd=root)
    if installed.returncode != 0 and "No matching distribution" in installed.stderr:
        pytest.skip(f"the client's dependencies cannot be installed here: {installed.stderr[-500:]}")
    assert installed.returncode == 0, installed.stderr[-3000:]
    return root


def test_wheel_ships_the_zoo_and_in_repo_weights_and_nothing_built(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "ocrserve/model_store/zoo.yaml" in names
    # the weights this project trained (zoo entries from the repository) ship; nothing built does
    trained = {f"ocrserve/{e.weights.path}" for e in load_zoo().models.values() if e.weights.package == IN_REPO}
    assert "ocrserve/model_store/weights/sdmgr-receipts/sdmgr.pth" in trained and trained <= set(names)
    assert not [n for n in names if n.endswith((".mar", "local.yaml")) or n.startswith("tests/")
                or (n.endswith(".onnx") and n not in trained)]
    requires = [line for line in zipfile.ZipFile(wheel).read(
        f"{wheel.name.split('-py3')[0]}.dist-info/METADATA").decode().splitlines() if line.startswith("Requires-Dist")]
    base = [r for r in requires if "extra ==" not in r]
    assert base and all(("<" in r and ">=" in r) for r in base), base  # ranged, not pinned or open
    assert any("torchserve" in r and 'extra == "server"' in r for r in requires)
    assert any("onnxruntime-gpu" in r and 'extra == "gpu"' in r for r in requires)


def test_installed_client_cli_and_readtext_against_the_service(venv, gateway, tmp_path):
    url = str(gateway.base_url).rstrip("/")
    bin_dir = venv / "bin"
    assert _run([str(bin_dir / "ocrserve"), "--help"], cwd=tmp_path).returncode == 0
    version = _run([str(bin_dir / "ocrserve"), "--version"], cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("ocrserve ")
    image = data_path("mmocr", "demo", "demo_text_ocr.jpg")
    script = f"""
import json, sys
from ocrserve import OcrClient, MMOCR
from service.gateway import locations, zoo
from service.tooling.packaging import weights
answer = OcrClient({url!r}).ocr({str(image)!r})
read = MMOCR(url={url!r}).readtext({str(image)!r}, details=True)[0]
print(json.dumps({{
    "texts": [line.text for line in answer.pages[0].result],
    "readtext": [r["text"] for r in read["result"]],
    "loaded": sorted(m for m in ("torch", "onnxruntime", "ts", "fastapi", "numpy", "cv2") if m in sys.modules),
    "zoo": str(zoo.DEFAULT_ZOO), "cache": str(weights.DEFAULT_CACHE), "work": str(locations.work_root()),
    "local_zoo": str(locations.local_zoo_path(zoo.DEFAULT_ZOO, zoo.LOCAL_ZOO_NAME)),
    "defaults": zoo.load_zoo().defaults}}))
"""
    ran = _run([str(bin_dir / "python"), "-c", script], cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    got = json.loads(ran.stdout)
    assert any("SALE" in t.upper() for t in got["texts"]) and got["readtext"] == got["texts"]
    assert got["loaded"] == []
    site = str(venv / "lib")
    assert got["zoo"].startswith(site) and got["defaults"]["kie"] == "sdmgr"  # read from package data
    for written in ("cache", "work", "local_zoo"):  # written: under the current directory, never site-packages
        assert got[written].startswith(str(tmp_path.resolve())), (written, got[written])
    cli = _run([str(bin_dir / "ocrserve"), "ocr", str(image), "--url", url, "--format", "text"], cwd=tmp_path)
    assert cli.returncode == 0 and cli.stdout.splitlines() == got["texts"], cli.stderr[-2000:]
    for missing in ("torch", "onnxruntime", "ts", "fastapi"):
        assert not list((venv / "lib").glob(f"python3*/site-packages/{missing}")), f"{missing} was installed"
