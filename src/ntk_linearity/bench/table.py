"""The table of one asv run: every case with its time, its floor and the ratio of the two.

Reads asv's stored results (``results_dir`` of ``asv.conf.json``) of one machine and commit: the
case's ``time_case`` (asv's median), its floor reference's ``time_floor`` from the same run, and the
``peakmem_case`` where there is one."""

from __future__ import annotations

import math
import socket
import subprocess
from pathlib import Path

from .cases import Case
from .floors import human
from .suite import CASES, floor_class_name

ROOT = Path(__file__).resolve().parents[3]
HEADER = ["case", "time", "floor", "work", "floor time", "ratio", "peak mem"]


def asv_config():
    """``asv.conf.json`` of the repository with its folders made absolute."""
    from asv.config import Config

    conf = Config.load(str(ROOT / "asv.conf.json"))
    for key in ("results_dir", "html_dir", "env_dir", "benchmark_dir"):
        setattr(conf, key, str(ROOT / getattr(conf, key)))
    return conf


def commit_hash(rev: str) -> str:
    return subprocess.run(["git", "rev-parse", rev], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def stored_results(commit: str, machine: str | None = None) -> dict[str, float]:
    """``{benchmark name: value}`` of every stored result of ``commit`` on ``machine`` (default: this
    host, as asv names it); NaN for a benchmark that failed or was skipped."""
    from asv.results import iter_results_for_machine_and_hash

    conf, values = asv_config(), {}
    machine = machine or socket.gethostname()
    if not (Path(conf.results_dir) / machine).is_dir():
        return values
    for result in iter_results_for_machine_and_hash(conf.results_dir, machine, commit):
        for key in result.get_all_result_keys():
            value = result.get_result_value(key, [])
            value = value[0] if isinstance(value, list) else value
            values[key] = math.nan if value is None else float(value)
    return values


def _seconds(t: float | None) -> str:
    if t is None:
        return "not run"
    if math.isnan(t):
        return "failed"
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def _row(case: Case, values: dict[str, float]) -> list[str]:
    t = values.get(f"suite.{case.name}.time_case")
    ref = values.get(f"suite.{floor_class_name(case.floor.reference)}.time_floor")
    ratio = math.nan if t is None or ref is None else t / (case.floor.times * ref)
    peak = values.get(f"suite.{case.name}.peakmem_case")
    times = "" if case.floor.times == 1 else f"{case.floor.times:g} x "
    return [case.name, _seconds(t), case.floor.what, human(case.floor.amount, case.floor.unit),
            times + _seconds(ref), "-" if math.isnan(ratio) else f"{ratio:.2f}",
            "-" if peak is None else ("failed" if math.isnan(peak) else f"{peak / 1e6:.0f} MB")]


def machine_limits(values: dict[str, float]) -> list[str]:
    """The machine's measured limits: GFLOP/s of every GEMM reference, GB/s of every memory pass."""
    lines = []
    for key in dict.fromkeys(case.floor.reference for case in CASES):
        ref = values.get(f"suite.{floor_class_name(key)}.time_floor", math.nan)
        kind, _, size = key.partition(":")
        if kind == "gemm" and not math.isnan(ref):
            m, k, n = (int(v) for v in size.split("x"))
            lines.append(f"  GEMM ({m} x {k})({k} x {n}): {_seconds(ref)}, {2 * m * k * n / ref / 1e9:.1f} GFLOP/s")
        elif kind == "pass" and not math.isnan(ref):
            lines.append(f"  memory pass of {human(float(size), 'B')}: {_seconds(ref)}, {float(size) / ref / 1e9:.1f} GB/s")
        elif kind == "start" and not math.isnan(ref):
            lines.append(f"  process start (import jax, kedro, the package): {_seconds(ref)}")
    return lines


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def report(commit: str, machine: str | None = None) -> str:
    """The printed table of ``commit``'s stored results (and the machine's limits below it)."""
    values = stored_results(commit, machine)
    if not values:
        return f"no stored asv results for commit {commit[:8]} on machine {machine or socket.gethostname()}"
    rows = [_row(case, values) for case in CASES]
    return "\n".join([
        f"commit {commit[:8]}, machine {machine or socket.gethostname()}: ratio = time / floor time "
        "(floor time: the reference program timed in the same run)",
        "",
        format_table(HEADER, rows),
        "",
        "Machine limits measured in the same run:",
        *machine_limits(values),
    ])
