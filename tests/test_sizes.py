"""The package stays readable: no module over 400 lines, no function over 60 lines or with more
than 8 parameters, unless its docstring says why (a sentence "<N> parameters: <reason>")."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ntk_linearity"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_MODULE_LINES, MAX_FUNCTION_LINES, MAX_PARAMETERS = 400, 60, 8
REASON = re.compile(r"\b\w+ (parameters|lines): \S")


def parameter_count(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Every parameter a caller may pass (``self`` and ``cls`` not counted)."""
    args = function.args
    names = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    count = len(names) + bool(args.vararg) + bool(args.kwarg)
    return count - bool(names and names[0].arg in ("self", "cls"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_and_function_sizes(path):
    tree = ast.parse(path.read_text())
    assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES or REASON.search(ast.get_docstring(tree) or "")
    for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        lines = function.end_lineno - function.lineno + 1
        too_big = lines > MAX_FUNCTION_LINES or parameter_count(function) > MAX_PARAMETERS
        assert not too_big or REASON.search(ast.get_docstring(function) or ""), (
            f"{function.name}: {lines} lines, {parameter_count(function)} parameters and no reason given")


def test_the_rule_sees_a_long_argument_list():
    source = "def f(a, b, c, d, e, f, g, h, i):\n    pass\n"
    assert parameter_count(ast.parse(source).body[0]) == 9
