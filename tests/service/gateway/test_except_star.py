"""No `raise` inside an `except*` clause. CPython before 3.11.4 (Debian 12's python3.11 is 3.11.2,
the interpreter of the images' stand-in base and of a venv made from Debian's Python) wraps an
exception raised there in a new ExceptionGroup, so the gateway's error handlers missed BadImage
and ModelNotFound raised from a document page and answered 500 instead of 400/404 (seen through
the containers, tests/deploy/test_images.py). 3.11.4 and later leave it unwrapped, so a behaviour
test on this machine's newer Python cannot see the difference: this checks the source."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SOURCES = sorted(p for d in ("service", "handlers", "ocrserve", "docker", "scripts", "bench")
                 for p in (REPO / d).rglob("*.py"))


def raises_in_except_star(tree: ast.AST) -> list[int]:
    """Line numbers of `raise` statements inside the body of an `except*` handler (nested
    functions excluded: they do not run there)."""
    found = []

    def visit(node: ast.AST, inside: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)) and inside:
            return
        if isinstance(node, ast.Raise) and inside:
            found.append(node.lineno)
        if isinstance(node, ast.TryStar):
            for child in node.body + node.orelse + node.finalbody:
                visit(child, inside)
            for handler in node.handlers:
                for child in handler.body:
                    visit(child, True)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return found


def test_the_check_finds_a_raise_in_except_star():
    bad = "try:\n    pass\nexcept* ValueError as e:\n    raise e.exceptions[0] from None\n"
    good = ("failure = None\ntry:\n    pass\nexcept* ValueError as e:\n    failure = e.exceptions[0]\n"
            "    def later():\n        raise failure\nif failure:\n    raise failure\n")
    assert raises_in_except_star(ast.parse(bad)) == [4]
    assert raises_in_except_star(ast.parse(good)) == []


def test_no_raise_inside_except_star():
    assert len(SOURCES) > 100
    offenders = {str(p.relative_to(REPO)): lines for p in SOURCES
                 if (lines := raises_in_except_star(ast.parse(p.read_text(), str(p))))}
    assert offenders == {}
