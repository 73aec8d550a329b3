"""The Dockerfiles' instructions, parsed (nothing is built): the dependency layers stay cached
across code and docs edits, every COPY source is in the build context that .dockerignore lets
through, and the TorchServe images carry the `kill` command TorchServe's frontend runs."""
from __future__ import annotations

import fnmatch
import re
import zipfile
from pathlib import Path

import pytest

from tests.deploy.conftest import DOCKER, REPO

DOCKERFILES = sorted(DOCKER.glob("Dockerfile.*"))
TORCHSERVE_DOCKERFILES = [p for p in DOCKERFILES if "torchserve" in p.name]
# What a dependency-installing RUN may see: the pins and the gateway's package list. Anything else
# copied before such a RUN (code, README, docs) would re-run the installs whenever it is edited.
DEPENDENCY_INPUTS = {"requirements.txt", "docker/gateway-packages.txt"}
INSTALLS = re.compile(r"\bpip install\b|\bapt-get install\b")


def instructions(path: Path) -> list[list[tuple[str, str]]]:
    """The stages of a Dockerfile, each a list of (INSTRUCTION, arguments) with continuation
    lines joined and comments dropped."""
    stages: list[list[tuple[str, str]]] = []
    logical = ""
    for line in path.read_text().splitlines():
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):  # a comment inside a continued instruction
            continue
        logical += line.rstrip()
        if logical.endswith("\\"):
            logical = logical[:-1] + " "
            continue
        op, _, args = logical.strip().partition(" ")
        logical = ""
        if op.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((op.upper(), args.strip()))
    return stages


def copy_sources(args: str) -> list[str]:
    """Sources of a COPY from the build context ([] for COPY --from=stage)."""
    words = args.split()
    if any(w.startswith("--from") for w in words):
        return []
    words = [w for w in words if not w.startswith("--")]
    return words[:-1]


def test_parser_sees_the_stages_and_copies():
    stages = instructions(DOCKER / "Dockerfile.torchserve-cpu")
    assert len(stages) == 2 and stages[0][0] == ("FROM", "${BASE_IMAGE} AS archives")
    assert ("COPY", "service/ service/") in stages[1]
    assert sum(op == "RUN" and bool(INSTALLS.search(a)) for op, a in stages[1]) == 2  # apt-get, pip


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_only_the_pins_are_copied_before_the_dependency_layers(path):
    """A README, docs or code edit must not throw away the pip/apt layers (minutes and gigabytes
    of downloads): every COPY before a stage's last installing RUN copies only pins."""
    for stage in instructions(path):
        installs = [i for i, (op, args) in enumerate(stage) if op == "RUN" and INSTALLS.search(args)]
        if not installs:
            continue
        early = [src for op, args in stage[:installs[-1]] if op == "COPY" for src in copy_sources(args)]
        assert set(early) <= DEPENDENCY_INPUTS, (path.name, early)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_no_image_copies_docs(path):
    """Docs are never copied: editing them changes no layer at all."""
    for stage in instructions(path):
        for op, args in stage:
            for src in copy_sources(args) if op in ("COPY", "ADD") else []:
                assert not src.lower().endswith(".md") and not src.startswith("docs"), (path.name, src)


def dockerignore_rules() -> list[tuple[bool, str]]:
    """(included, pattern) in file order: the last matching rule wins, as in Docker."""
    rules = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), line.lstrip("!").rstrip("/")))
    return rules


def in_build_context(path: str) -> bool:
    """Whether .dockerignore lets `path` (or the folder it names) into the build context: a
    pattern matches the path or any folder above it ("*" does not cross a "/")."""
    path = path.rstrip("/")
    candidates = [path] + [str(p) for p in Path(path).parents if str(p) != "."]
    included = True
    for keep, pattern in dockerignore_rules():
        pattern = pattern.removeprefix("**/")
        if any(fnmatch.fnmatchcase(c, pattern) and c.count("/") == pattern.count("/") for c in candidates) \
                or any(fnmatch.fnmatchcase(Path(c).name, pattern) for c in candidates if pattern != "*"
                       and "/" not in pattern and not keep):
            included = keep
    return included


def test_dockerignore_matcher():
    assert in_build_context("requirements.txt") and in_build_context("service/") and in_build_context("ocrserve/")
    assert not in_build_context("README.md") and not in_build_context(".venv") and not in_build_context("run")
    assert not in_build_context("service/__pycache__")
    assert in_build_context("model_store/weights/") and not in_build_context("model_store/dbnet.mar")


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_every_copied_file_is_in_the_build_context(path):
    """A COPY of something .dockerignore keeps out fails the build ("no source files"): each
    source exists in the checkout and is let through."""
    for stage in instructions(path):
        for op, args in stage:
            for src in copy_sources(args) if op == "COPY" else []:
                assert (REPO / src).exists(), (path.name, src)
                assert in_build_context(src), f"{path.name}: COPY {src}, but .dockerignore keeps it out"


def test_torchserve_frontend_stops_workers_with_the_kill_command():
    """TorchServe 0.12 stops a model's workers on unregister by running `kill -9 <pid>` (its
    OSUtils.getKillCmd); when no `kill` executable is on PATH the exec fails and the unregister
    answers 500 "Interrupted while cleaning resources". A TorchServe that stops doing so makes
    this test fail, and procps (below) can then go."""
    import ts

    jar = Path(ts.__file__).parent / "frontend" / "model-server.jar"
    with zipfile.ZipFile(jar) as archive:
        osutils = archive.read("org/pytorch/serve/util/OSUtils.class")
    assert b"kill -9 %s" in osutils


@pytest.mark.parametrize("path", TORCHSERVE_DOCKERFILES, ids=lambda p: p.name)
def test_torchserve_runtime_has_the_kill_command(path):
    """The stage TorchServe runs in installs procps (/bin/kill): slim and minbase Debian images
    lack it (test_torchserve_frontend_stops_workers_with_the_kill_command says why it matters)."""
    runtime = instructions(path)[-1]
    apt = [args for op, args in runtime if op == "RUN" and "apt-get install" in args]
    assert apt and any(re.search(r"\bprocps\b", args) for args in apt), path.name
    assert any(op == "ENTRYPOINT" and "entrypoint-torchserve.sh" in args for op, args in runtime)
