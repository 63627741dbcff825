"""docs/results.md, generated from the reporting tables of one ``kedro run`` (``make results-page``).

:func:`results_markdown` is a pure function from the tables (``runs.csv``, ``scaling.csv``, the text
of ``table1.md``) and a :class:`PageMetadata` (commit, date, environment, machine, JAX backend) to
Markdown. :func:`main` reads the newest version of each table under ``<data root>/08_reporting``, takes
the commit, date, environment and JAX backend from the newest rendered report (its "Run metadata"
table) and the machine from this host unless ``--machine`` names it::

    python -m ntk_linearity.pipelines.reporting.results_page [data root] [--output docs/results.md]
"""

from __future__ import annotations

import argparse
import html
import math
import os
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ntk_linearity.experiment.vocabulary import AXES

REPORTING = "08_reporting"
SWEPT_COLUMNS = tuple(name for name in AXES if name != "learning_rate")  # η is derived per run
_ROW = re.compile(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*</tr>", re.S)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class PageMetadata:
    """What the page says about the run that produced its numbers."""

    commit: str
    date: str
    environment: str
    machine: str
    backend: str
    packages: str = ""


# ---------------------------------------------------------------------------------------------------
# The pure part: tables and metadata -> Markdown


def _cell(value: object) -> str:
    """A table cell: missing values as '–', pipes escaped."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace("|", "\\|")


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]


def format_slope(slope: float, low: float, high: float) -> str:
    """``-1.05 [-1.10, -1.00]``; an interval that could not be fitted is said so."""
    if slope is None or math.isnan(slope):
        return "n/a"
    interval = "no interval" if math.isnan(low) or math.isnan(high) else f"{low:+.2f}, {high:+.2f}"
    return f"{slope:+.2f} [{interval}]"


def _values(series: pd.Series) -> str:
    unique = series.dropna().unique().tolist()
    try:
        unique = sorted(unique)
    except TypeError:
        unique = sorted(unique, key=str)
    return ", ".join(_cell(v) for v in unique)


def _flag(series: pd.Series) -> pd.Series:
    """A boolean column as read from CSV (bool, or the strings 'True'/'False')."""
    return series.astype(str).str.lower().isin(("true", "1", "1.0"))


def _is_axis(runs: pd.DataFrame, column: str) -> bool:
    """The column varies because the sweep sweeps it: a numeric axis's token is in the run names
    (``m1000`` for width); a value derived per run (η λ_0 of a fixed learning rate) is not."""
    if runs[column].dropna().nunique() < 2:
        return False
    token = AXES[column].token
    if not token or "namespace" not in runs:
        return True
    pattern = re.compile(rf"(?:^|_){re.escape(token)}\d")
    return runs["namespace"].astype(str).str.split(".").str[-1].str.contains(pattern).all()


def swept_values(runs: pd.DataFrame) -> str:
    """The axes one sweep's runs vary, with their values (``width: 30, 100; seed: 0, 1``)."""
    columns = [c for c in SWEPT_COLUMNS if c in runs and _is_axis(runs, c)]
    return "; ".join(f"{column}: {_values(runs[column])}" for column in columns) or "one run"


def runs_section(runs: pd.DataFrame) -> list[str]:
    """One row per sweep: its runs, how they ended, what it sweeps and its training time."""
    with_method = "hessian_method" in runs
    rows = []
    for sweep, group in runs.groupby("sweep", sort=True):
        diverged = int(_flag(group["diverged"]).sum()) if "diverged" in group else 0
        converged = int(_flag(group["converged"]).sum()) if "converged" in group else 0
        wall = group["wall_seconds"].sum() if "wall_seconds" in group else float("nan")
        method = [_values(group["hessian_method"])] if with_method else []
        rows.append([f"`{sweep}`", len(group), converged, diverged, swept_values(group), *method,
                     f"{wall:.0f}"])
    header = ["sweep", "runs", "converged", "diverged", "swept values",
              *(["Hessian method"] if with_method else []), "training wall time (s)"]
    return ["## Runs", "", *_table(header, rows), ""]


def table1_section(table1: str) -> list[str]:
    """``table1.md`` as the pipeline wrote it, its headings one level down."""
    lines = [("#" + line) if line.startswith("#") else line for line in table1.strip().splitlines()]
    return [*lines, ""]


def scaling_section(scaling: pd.DataFrame) -> list[str]:
    """The fitted exponents of every sweep (``scaling.csv``), one table per sweep."""
    lines = ["## Fitted exponents", "",
             "Log-log slopes against each sweep's fit axis with 95 % intervals; theory where known.", ""]
    for sweep, fits in scaling.groupby("sweep", sort=True):
        rows = [[fit.group, fit.quantity,
                 format_slope(fit.slope, fit.slope_ci_low, fit.slope_ci_high),
                 "–" if pd.isna(fit.theory_slope) else f"{fit.theory_slope:+.2f}",
                 fit.n_points, fit.n_seeds]
                for fit in fits.itertuples(index=False)]
        against = _values(fits["fit_against"])
        lines += [f"### `{sweep}` (against {against})", "",
                  *_table(["group", "quantity", "slope [95 % interval]", "theory", "points", "seeds"],
                          rows), ""]
    return lines


def metadata_section(meta: PageMetadata) -> list[str]:
    rows = [["commit", f"`{meta.commit}`"], ["date", meta.date],
            ["Kedro environment", f"`{meta.environment}`"], ["machine", meta.machine],
            ["JAX backend", meta.backend]]
    if meta.packages:
        rows.append(["packages", meta.packages])
    return _table(["", ""], rows) + [""]


def results_markdown(runs: pd.DataFrame, scaling: pd.DataFrame, table1: str, meta: PageMetadata) -> str:
    """The whole results page."""
    lines = [
        "# Results", "",
        "<!-- Generated by `make results-page` from the reporting tables of one `kedro run`; "
        "do not edit by hand. -->", "",
        "The numbers of one run of the pipelines (`data/08_reporting/`: `runs.csv`, `scaling.csv`, "
        "`table1.md`). What each experiment measures: [experiments.md](experiments.md); how to "
        "regenerate this page: [development.md](development.md).", "",
        *metadata_section(meta),
        *runs_section(runs),
        *table1_section(table1),
        *scaling_section(scaling),
    ]
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------------
# Reading a data root


def latest_version(root: Path, name: str) -> Path:
    """The newest version of a versioned reporting file ``<root>/08_reporting/<name>/<version>/<name>``."""
    folder = root / REPORTING / name
    versions = sorted(p for p in folder.glob(f"*/{name}") if p.is_file()) if folder.is_dir() else []
    if not versions:
        raise FileNotFoundError(f"no version of {name} under {folder} (run `kedro run` first)")
    return versions[-1]


def report_metadata(report_html: str) -> dict[str, str]:
    """The rows of the report's "Run metadata" table: item -> plain text."""
    rows = {}
    for key, value in _ROW.findall(report_html):
        text = html.unescape(_TAG.sub("", value)).strip()
        rows[html.unescape(_TAG.sub("", key)).strip()] = text
    return rows


def _backend(devices: str) -> str:
    match = re.search(r"backend (\w+)", devices)
    return f"{match.group(1)} ({devices.split(' (')[0]})" if match else devices


def host_machine() -> str:
    """This host's CPU model and logical cores, the accelerator's name where the JAX backend has one."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}"


def page_metadata(root: Path, commit: str | None, machine: str | None) -> PageMetadata:
    """Commit, date, environment and backend from the newest report; the arguments win where given."""
    try:
        page = latest_version(root, "report.html").read_text(encoding="utf-8")
    except FileNotFoundError:
        page = ""
    rows = report_metadata(page)
    git = (re.search(r"\b[0-9a-f]{40}\b", rows.get("git", "") or rows.get("commit", ""))
           or re.search(r"commit\W+([0-9a-f]{40})\b", page))
    devices = next((v for k, v in rows.items() if k.startswith("JAX devices")), "")
    found = commit or (git.group(git.re.groups) if git else None)
    if not found:
        raise SystemExit("the report records no commit: pass --commit <sha>")
    return PageMetadata(commit=found, date=rows.get("rendered", "unknown"),
                        environment=rows.get("Kedro environment", "unknown"),
                        machine=machine or host_machine(), backend=_backend(devices) or "unknown",
                        packages=rows.get("packages", ""))


def page_from_root(root: Path, commit: str | None = None, machine: str | None = None) -> str:
    """The results page of the newest tables under ``root``."""
    runs = pd.read_csv(latest_version(root, "runs.csv"))
    scaling = pd.read_csv(latest_version(root, "scaling.csv"))
    table1 = latest_version(root, "table1.md").read_text(encoding="utf-8")
    return results_markdown(runs, scaling, table1, page_metadata(root, commit, machine))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default="data", help="data root (conf/<env>/globals.yml)")
    parser.add_argument("--output", "-o", default="docs/results.md", help="'-' for stdout")
    parser.add_argument("--commit", help="the commit that produced the data (default: the report's)")
    parser.add_argument("--machine", help="the machine that ran it (default: this host)")
    args = parser.parse_args(argv)
    page = page_from_root(Path(args.root), args.commit, args.machine)
    if args.output == "-":
        sys.stdout.write(page)
    else:
        Path(args.output).write_text(page, encoding="utf-8")
        print(f"wrote {args.output} ({len(page.encode())} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
