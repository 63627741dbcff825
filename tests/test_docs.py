"""The README and docs/ say only what the repository holds: the README stays a short newcomer's page with
a two-command quick start, every link and every path it names resolves to a file of the repository, every
``make`` target it names exists, and its statements about Table 1 match the code and docs/results.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ntk_linearity.experiment.vocabulary import ARCHITECTURES

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_BYTES = 12 * 1024
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
CODE_PATH = re.compile(r"`([\w./-]+\.(?:py|yml|yaml|ipynb|j2|toml|txt|md|png))`")
# Paths the docs name that a run writes or that a user creates, not files of the repository.
NOT_IN_REPOSITORY = {"conf/local/parameters.yml", "conf/local/dask.yml", "conf/slurm/dask.yml", "conf/gpus/dask.yml",
                     "conf/base/dask.yml"}
SEARCH_ROOTS = [ROOT, ROOT / "src" / "ntk_linearity", ROOT / "src" / "ntk_linearity" / "pipelines",
                ROOT / "src" / "ntk_linearity" / "numerics", ROOT / "docs"]


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def prose(text: str) -> str:
    """The text outside fenced code blocks."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def heading_anchors(page: Path) -> set[str]:
    """GitHub's anchors of a Markdown page's headings."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", prose(page.read_text(encoding="utf-8")), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def makefile_targets() -> set[str]:
    rules = re.findall(r"^([\w -]+):(?!=)", (ROOT / "Makefile").read_text(), flags=re.M)
    return {target for rule in rules for target in rule.split()}


def test_the_readme_is_short():
    assert README.stat().st_size <= MAX_README_BYTES, "move the details into docs/"


def quick_start_commands() -> list[str]:
    section = re.search(r"^## Quick start$(.*?)^## ", README.read_text(encoding="utf-8"), flags=re.S | re.M)
    assert section, "README.md has no '## Quick start' section"
    block = re.search(r"^```bash$(.*?)^```$", section.group(1), flags=re.S | re.M)
    assert block, "the quick start has no bash block"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def test_the_quick_start_is_two_make_commands_that_build_the_virtualenv():
    commands = quick_start_commands()
    assert commands == ["make run", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test"):
        assert re.search(rf"^{target}: \$\(STAMP\)$", makefile, flags=re.M), f"make {target} must install first"
    assert re.search(r"^\$\(STAMP\): pyproject.toml constraints.txt", makefile, flags=re.M)


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_every_make_target_named_exists(page):
    named = set(re.findall(r"\bmake ([a-z][\w-]*)", page.read_text(encoding="utf-8")))
    assert named <= makefile_targets(), sorted(named - makefile_targets())


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_every_link_resolves_to_a_file_of_the_repository(page):
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.is_file(), f"{_page_id(page)} links to {target}, which is not a file"
        assert linked.is_relative_to(ROOT), target
        if anchor and linked.suffix == ".md":
            assert anchor in heading_anchors(linked), f"{_page_id(page)}: no heading #{anchor} in {path}"


def catalog_outputs() -> list[re.Pattern]:
    """The files the pipelines write (``conf/base/catalog.yml``), as patterns of their paths below the
    data root's layer folder: ``08_reporting/{sweep}/scaling.png`` -> ``[^/]+/scaling.png``."""
    paths = re.findall(r"filepath: \$\{globals:data_root\}/\d\d_\w+/(\S+)", (ROOT / "conf/base/catalog.yml").read_text())
    return [re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path))) for path in paths]


def _is_output(name: str) -> bool:
    """A file a run writes, by its path below the layer folder or by its file name alone."""
    return any(p.fullmatch(name) or p.pattern.rsplit("/", 1)[-1] == re.escape(name) for p in catalog_outputs())


def _exists(name: str) -> bool:
    if _is_output(name):
        return True
    if any((root / name).exists() for root in SEARCH_ROOTS):
        return True
    if "/" not in name:  # a bare module name: anywhere in the package or the tests
        return any(p.name == name for folder in ("src", "tests", "conf") for p in (ROOT / folder).rglob(name))
    return False


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_every_path_named_exists(page):
    named = set(CODE_PATH.findall(page.read_text(encoding="utf-8"))) - NOT_IN_REPOSITORY
    missing = sorted(name for name in named if not _exists(name))
    assert not missing, f"{_page_id(page)} names files the repository does not hold: {missing}"


# The README's Table 1 rows, in its order: the architectures that have a row in the paper's Table 1.
README_TABLE1 = {"one hidden layer, linear output": "linear_output", "swish output": "swish_output",
                 "softmax output": "softmax_output", "bottleneck (m, m_b, m), linear output": "bottleneck"}


def _rows(text: str, first_cells: set[str]) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] in first_cells:
            rows[cells[0]] = cells
    return rows


def test_the_readmes_table1_is_the_papers():
    rows = _rows(README.read_text(encoding="utf-8"), set(README_TABLE1))
    with_paper_row = {name for name, a in ARCHITECTURES.items() if a.paper_row is not None}
    assert set(rows) == set(README_TABLE1) and set(README_TABLE1.values()) == with_paper_row
    for label, name in README_TABLE1.items():
        assert rows[label][-1] == ARCHITECTURES[name].paper_row.transition


def test_the_results_page_agrees_with_the_readme():
    """README: "the measured verdicts of these four rows agree with the paper"."""
    assert "the measured verdicts of these four rows agree with the paper" in " ".join(README.read_text().split())
    assert len(README_TABLE1) == 4
    results = _rows((ROOT / "docs" / "results.md").read_text(encoding="utf-8"), set(README_TABLE1.values()))
    assert set(results) == set(README_TABLE1.values()), "docs/results.md lacks rows of the paper's Table 1"
    for name, cells in results.items():
        paper, measured = cells[-2], cells[-1]
        assert measured == paper == ARCHITECTURES[name].paper_row.transition, (name, paper, measured)


def test_the_results_page_is_generated():
    text = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    assert "Generated by `make results-page`" in text
    assert re.search(r"^\| commit \| `[0-9a-f]{7,40}` \|$", text, flags=re.M)
