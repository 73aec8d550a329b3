"""Calls written in README.md and docs/ as a reader would copy them (issue 16's list)."""
from __future__ import annotations

import ast
import builtins
import importlib
import re
import subprocess
import sys

import pytest

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
    from service.tooling.launch.runner import torchserve_config
    from service.gateway.settings import Settings
    from service.tooling.launch.torchserve_process import PGID_FILE

    run_dir = torchserve_config(Settings(run_dir=tmp_path / "run"), ["dbnet"]).run_dir
    documented = f"run/{run_dir.relative_to(tmp_path / 'run')}/{PGID_FILE}"
    assert f"`{documented}`" in (REPO / "README.md").read_text()


def test_export_onnx_without_the_checkpoint_says_so(tmp_path):
    missing = tmp_path / "crnn.pth"
    run = subprocess.run([sys.executable, "-m", "service.tooling.cli", "export-onnx", "--arch", "crnn_mini-vgg_5e_mj",
                          "--checkpoint", str(missing), "--out", str(tmp_path / "c.onnx")],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip() == f"ocrserve export-onnx: checkpoint {missing} does not exist"


def test_every_readme_call_is_run_by_a_test_or_excused_with_a_reason():
    """A call added to README.md fails here until tests/integration/test_readme_calls.py can run it as
    written (curl or `ocrserve ocr` against the test servers, on files its workspace has, or a Python block
    with known placeholders), another test runs it (RUN_BY), or NOT_RUN says why the suite cannot."""
    from tests.doc_calls import (HOSTS, NOT_RUN, PYTHON_PLACEHOLDERS, RUN_BY, RUNNABLE, WORKSPACE, blocks,
                                 excused, inputs, python_strings)

    found = [(block, call) for block in blocks() for call in block.calls]
    assert len(found) > 30  # the extraction sees the README's calls (a broken regex finds none)
    problems = []
    for block, call in found:
        if excused(call):
            continue
        where = f"{block.id}: {call.splitlines()[0][:100]}"
        if block.lang == "python":
            tree = ast.parse(call)
            stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            stored |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                       if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
            stored |= {n.optional_vars.id for n in ast.walk(tree) if isinstance(n, ast.withitem)
                       and isinstance(n.optional_vars, ast.Name)}
            loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            unknown = loaded - stored - set(dir(builtins)) - set(PYTHON_PLACEHOLDERS)
            if unknown:
                problems.append(f"{where}: names the test cannot fill in: {sorted(unknown)}")
            paths = python_strings(call)
        else:
            if not RUNNABLE.match(call):
                problems.append(f"{where}: not a curl or `ocrserve ocr` call")
            paths = inputs(call)
        urls = re.findall(r"(?:https?://)?(?:127\.0\.0\.1|localhost|\[::1\]):\d+", call)
        problems += [f"{where}: {u} is no test server" for u in urls if not any(u in h or h in u for h in HOSTS)]
        problems += [f"{where}: the workspace has no {p}" for p in paths if p not in WORKSPACE
                     and not p.startswith(("out/", "results/"))]
    assert not problems, ("README calls neither run by tests/integration/test_readme_calls.py nor excused "
                          "in tests/doc_calls.py (NOT_RUN with the reason, or RUN_BY naming the test):\n"
                          + "\n".join(problems))
    calls = {call for _, call in found}
    assert not (set(NOT_RUN) | set(RUN_BY)) - calls, "entries of tests/doc_calls.py no longer in the README"
    for node in RUN_BY.values():
        path, _, name = node.partition("::")
        assert f"def {name}(" in (REPO / path).read_text(), node


def test_the_readme_call_check_sees_a_new_call(tmp_path, monkeypatch):
    """The check above fails for a call that the runner cannot run and nobody excused."""
    import tests.doc_calls as doc_calls

    readme = tmp_path / "README.md"
    readme.write_text(doc_calls.README.read_text() + "\n```sh\n.venv/bin/ocrserve eval --data x  # new\n```\n")
    monkeypatch.setattr(doc_calls, "README", readme)
    monkeypatch.setattr(doc_calls.blocks, "__defaults__", (readme,))
    with pytest.raises(AssertionError, match="ocrserve eval --data x: not a curl"):
        test_every_readme_call_is_run_by_a_test_or_excused_with_a_reason()


def test_every_docs_call_has_a_reason_to_stay_out_of_the_suite():
    from tests.doc_calls import DOCS_NOT_RUN, DOCS_RUN, blocks, docs_reason, docs_run

    found = [(block, call) for doc in sorted((REPO / "docs").glob("*.md")) for block in blocks(doc)
             for call in block.calls]
    assert len(found) > 30
    uncovered = [f"{block.id}: {call.splitlines()[0][:100]}" for block, call in found
                 if not docs_reason(block.doc, call) and not docs_run(block.doc, call)]
    assert not uncovered, "docs/ calls neither run by a test nor covered by DOCS_NOT_RUN:\n" + "\n".join(uncovered)
    used = {(name, pattern) for name, pattern, _ in DOCS_NOT_RUN
            if any(block.doc == name and re.search(pattern, call) for block, call in found)}
    assert used == {(name, pattern) for name, pattern, _ in DOCS_NOT_RUN}, "DOCS_NOT_RUN rules that match nothing"
    run = [(block, call) for block, call in found if docs_run(block.doc, call)]
    assert len(run) == len(DOCS_RUN) and not any(docs_reason(block.doc, call) for block, call in run)
