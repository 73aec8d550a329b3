"""The rooms of docs/architecture.md and what each may import, read from the source itself."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

HEAVY = ("torch", "onnxruntime", "tesserocr")


def _modules(package: str) -> dict[str, Path]:
    root = REPO / package.replace(".", "/")
    return {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
            for p in root.rglob("*.py") if "__pycache__" not in p.parts}


def _imports(path: Path, top_level_only: bool = False) -> list[str]:
    """Absolute module names imported by a file (function-level imports included unless asked)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    names = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _outside(package: str, allowed: tuple[str, ...], top_level_only: bool = False) -> list[str]:
    """`module -> import` pairs of ours that fall outside `allowed` prefixes."""
    ours = ("handlers", "service", "ocrserve", "tests")
    bad = []
    for name, path in _modules(package).items():
        for imported in _imports(path, top_level_only):
            if imported.split(".")[0] in ours and not imported.startswith(allowed):
                bad.append(f"{name} -> {imported}")
    return bad


def test_the_workers_import_nothing_outside_handlers():
    assert _outside("handlers", ("handlers.",)) == []


def test_the_gateway_imports_only_the_contract_and_pure_ops_of_the_workers():
    """Not even lazily: models in the caller's process are the tooling's LocalBackend."""
    assert _outside("service.gateway", ("service.gateway", "handlers.api", "handlers.ops")) == []


def test_the_client_package_reaches_only_the_gateways_schemas_and_catalogue():
    allowed = ("ocrserve", "service.gateway.schemas", "service.gateway.zoo")
    assert _outside("ocrserve", allowed, top_level_only=True) == []


@pytest.mark.parametrize("module", ["service.gateway.main", "ocrserve", "ocrserve.cli_ocr"])
def test_importing_the_gateway_or_the_client_loads_no_torch_or_onnxruntime(module):
    code = f"import sys, {module}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_rules_catch_a_gateway_module_reaching_into_a_family(tmp_path, monkeypatch):
    """The rule above can fail: a gateway module importing a model family is reported."""
    fake = tmp_path / "service" / "gateway"
    fake.mkdir(parents=True)
    (fake / "sneaky.py").write_text("from handlers.families.db import DBDetector\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert _outside("service.gateway", ("service.gateway", "handlers.api")) == [
        "service.gateway.sneaky -> handlers.families.db"]


def test_archives_ship_the_worker_room_only():
    """Exporters, training and evaluation live in the tooling: editing them rebuilds no archive."""
    from service.tooling.packaging.archive import HANDLERS_DIR, _handler_sources

    assert HANDLERS_DIR == REPO / "handlers"
    shipped = {p.relative_to(REPO).as_posix() for p in _handler_sources()}
    assert not [p for p in shipped if "onnx_export" in p or "metrics" in p or "training" in p]
    assert "handlers/registry.py" in shipped and "handlers/api/results.py" in shipped
