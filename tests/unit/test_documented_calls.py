"""Calls written in README.md and docs/ as a reader would copy them (issue 16's list)."""
from __future__ import annotations

import ast
import builtins
import importlib
import re
import subprocess
import sys

from tests.conftest import REPO

DOCS = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]


def _blocks(text: str, lang: str = "") -> list[str]:
    return re.findall(rf"```{lang}[^\n]*\n(.*?)```", text, flags=re.S)


def test_docs_call_the_ocrserve_that_make_run_installs():
    bare = [(doc.name, line) for doc in DOCS for block in _blocks(doc.read_text())
            for line in block.splitlines() if re.match(r"\s*(\$ )?ocrserve ", line)]
    assert bare == [], "after `make run` the command is .venv/bin/ocrserve (or pip install . for ocrserve)"


def test_predictions_calls_send_a_raw_body():
    for doc in DOCS:
        for line in doc.read_text().splitlines():
            if "/predictions/" in line and "--data-binary" in line and "curl" in line:
                assert "application/octet-stream" in line, (doc.name, line)


def test_python_snippet_of_onnx_export_rec_defines_every_name():
    snippet = _blocks((REPO / "docs" / "onnx-export-rec.md").read_text(), "python")[0]
    tree = ast.parse(snippet)
    defined = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    assert used <= defined, f"NameError for {sorted(used - defined)}"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module.startswith("handlers"):
            module = importlib.import_module(node.module)
            assert all(hasattr(module, a.name) for a in node.names)


def test_readme_names_the_real_process_group_file(tmp_path):
    from service.runner import torchserve_config
    from service.settings import Settings
    from service.torchserve_process import PGID_FILE

    run_dir = torchserve_config(Settings(run_dir=tmp_path / "run"), ["dbnet"]).run_dir
    documented = f"run/{run_dir.relative_to(tmp_path / 'run')}/{PGID_FILE}"
    assert f"`{documented}`" in (REPO / "README.md").read_text()


def test_export_onnx_without_the_checkpoint_says_so(tmp_path):
    missing = tmp_path / "crnn.pth"
    run = subprocess.run([sys.executable, "-m", "service.cli", "export-onnx", "--arch", "crnn_mini-vgg_5e_mj",
                          "--checkpoint", str(missing), "--out", str(tmp_path / "c.onnx")],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip() == f"ocrserve export-onnx: checkpoint {missing} does not exist"
