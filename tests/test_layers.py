"""The package's parts and the one direction its imports run (docs/architecture.md, "Layers").

Each folder of ``src/ntk_linearity`` is a part; a module may import only from its own part and from
the parts listed below it. The Kedro wiring at the package root (settings, hooks, the pipeline
registry, the command line) may import anything, and nothing imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ntk_linearity"
ROOT_PART = "(root)"
PACKAGE_LEVEL = {"ntk_linearity", "ntk_linearity.__version__"}  # the version number: any part may read it
# part -> the parts it may import besides itself
ALLOWED = {
    "numerics": set(),
    "datasets": set(),
    "experiment": {"numerics"},
    "provenance": {"experiment", "numerics", "datasets"},
    "execution": {"experiment"},
    "pipelines": {"numerics", "experiment", "provenance", "execution"},
    "bench": {"numerics"},
}


def part_of(module: str) -> str:
    """``ntk_linearity.experiment.sweeps`` -> ``experiment``; a module at the package root -> root."""
    parts = module.split(".")
    candidate = parts[1] if len(parts) > 1 else ""
    return candidate if (PACKAGE / candidate).is_dir() else ROOT_PART


def project_imports(path: Path) -> set[str]:
    """The ``ntk_linearity`` modules (or packages) that the file at ``path`` imports."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in imported if name.split(".")[0] == "ntk_linearity"}


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_folder_of_the_package_is_a_known_part():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == set(ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    module = ".".join(("ntk_linearity", *path.relative_to(PACKAGE).with_suffix("").parts))
    part = part_of(module)
    if part == ROOT_PART:
        return
    wrong = {name for name in project_imports(path)
             if part_of(name) not in ALLOWED[part] | {part} and name not in PACKAGE_LEVEL}
    assert not wrong, f"{part} may import {sorted(ALLOWED[part])}, not {sorted(wrong)}"


def test_nothing_imports_the_kedro_wiring():
    wiring = {f"ntk_linearity.{p.stem}" for p in PACKAGE.glob("*.py")} - {"ntk_linearity.__init__"}
    for path in MODULES:
        if path.parent != PACKAGE:
            assert not project_imports(path) & wiring, path
