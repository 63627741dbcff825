"""Two commits compared: record the suite's results of each (unless stored already), then asv's
comparison table; a case slower by more than ``factor`` (and beyond asv's noise statistics) makes
the command fail.

A commit is measured with the suite of the working tree against that commit's ``src/``, ``conf/``
and ``pyproject.toml`` (extracted by ``git archive`` into a temporary folder and put first on the
benchmarks' ``PYTHONPATH``), in this virtualenv: what changes between the two records is the
project's code, not its dependencies.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from .table import ROOT, asv_config, commit_hash, stored_results

DEFAULT_FACTOR = 1.3


def asv_run(commit: str, machine: str, extra: list[str], source: Path) -> None:
    """``asv run`` of the suite in this Python, its results stored under ``commit``; ``source``: the
    checkout whose ``src`` the benchmarks import instead of the installed package."""
    env = dict(os.environ, KEDRO_DISABLE_TELEMETRY="1", ASV_PYTHONPATH=str(source / "src"))
    asv = str(Path(sys.executable).with_name("asv"))  # as `make bench` runs it: one environment name
    subprocess.run([asv, "machine", "--yes", "--machine", machine], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([asv, "run", "--python=same", "--set-commit-hash", commit, "--machine", machine, *extra],
                   cwd=ROOT, env=env, check=True)


def record(commit: str, machine: str, extra: list[str]) -> None:
    """Measure ``commit`` (a full hash) from a ``git archive`` of its sources."""
    with tempfile.TemporaryDirectory(prefix="ntk_bench_commit_") as folder:
        archive = subprocess.run(["git", "archive", commit, "src", "conf", "pyproject.toml"], cwd=ROOT,
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        asv_run(commit, machine, extra, Path(folder))


def compare(rev_a: str, rev_b: str, factor: float = DEFAULT_FACTOR, machine: str | None = None,
            extra: list[str] | None = None, use_stats: bool = True) -> int:
    """Print asv's comparison of ``rev_b`` against ``rev_a`` (recording either if it has no stored
    results on this machine); 1 when a benchmark got slower by more than ``factor`` (and, with
    ``use_stats``, by more than the spread of its samples), else 0."""
    from asv.commands.compare import Compare

    machine = machine or socket.gethostname()
    commits = [commit_hash(rev_a), commit_hash(rev_b)]
    for commit in commits:
        if not stored_results(commit, machine):
            record(commit, machine, extra or [])
    worsened, _ = Compare.print_table(asv_config(), *commits, factor=factor, split=False, machine=machine, use_stats=use_stats,
                                      commit_names={c: r for c, r in zip(commits, (rev_a, rev_b))})
    if worsened:
        print(f"\n{rev_b} is slower than {rev_a} by more than a factor {factor:g} in the cases marked '+'.")
    return int(worsened)
