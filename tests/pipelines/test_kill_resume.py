"""`kill -9` at any save, then `kedro run --only-missing-outputs`, gives the tables of an
uninterrupted run: a run is committed as a unit (docs/operations.md, "Provenance and resume").

Every case starts from a project that holds the complete results of other settings (``OLD``: fewer
steps), runs the new settings (``NEW``) in a child process that kills itself with SIGKILL just
before one chosen file is renamed into place (every save of the project is an atomic rename, so
this is the moment between two saves), resumes with ``--only-missing-outputs`` and compares the
tables with an uninterrupted run of ``NEW``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ntk_linearity.pipelines.schema import TIMING_COLUMNS

from kedro_project_utils import latest, make_project, run_kedro, sweep_grid, write_env

MICRO = {
    "sweeps": sweep_grid(
        width_sweep={"head": ["linear"], "width": [8, 16], "seed": [0]},
        bottleneck_sweep={"bottleneck_width": [2], "width": [8], "seed": [0]},
        depth_sweep={"depth": [2], "width": [8], "seed": [0]},
    ),
    "training": {"max_steps": 50, "n_snapshots": 4, "progress_every": 25},
    "hessian": {"lanczos_steps": 8},
    "reporting": {"time_curve_width": 16},
}
OLD = MICRO | {"training": MICRO["training"] | {"max_steps": 30}}
NEW = MICRO
RUN = "width_sweep/linear_m16_s0"
KILL_POINTS = {
    "synthetic data": r"01_raw/synthetic_data\.npz$",
    **{f"run {name}": rf"{RUN}/{name}\.(npz|json)$" for name in (
        "initial_params", "final_params", "training_history", "training_metrics", "hessian_metrics", "run_summary")},
    "group summaries": r"07_model_output/width_sweep/summaries/linear\.json$",
    "sweep summaries": r"07_model_output/width_sweep/summaries\.json$",
    "sweep table": r"07_model_output/width_sweep/runs\.csv$",
    "reporting table": r"08_reporting/runs\.csv/[^/]+/runs\.csv$",
    "report": r"08_reporting/report\.html/[^/]+/report\.html$",
}
TABLES = ("runs.csv", "table1_scaling.csv", "scaling.csv", "training_curves.csv", "table1.md")

KILLED_AT = """
import os, re, signal, sys
from pathlib import Path

pattern, real_replace = re.compile(sys.argv[1]), os.replace

def replace(src, dst, *args, **kwargs):
    if pattern.search(str(dst)):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)

os.replace = replace
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

bootstrap_project(Path.cwd())
with KedroSession.create(project_path=Path.cwd(), env="new") as session:
    session.run()
"""


def _project(tmp_path_factory, name: str) -> Path:
    project = make_project(tmp_path_factory.mktemp(name))
    write_env(project, "old", OLD)
    write_env(project, "new", NEW)
    return project


@pytest.fixture(scope="module")
def old_results(tmp_path_factory) -> Path:
    """A project holding the complete results of the old settings."""
    project = _project(tmp_path_factory, "old")
    run_kedro(project, env="old")
    return project


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted run of the new settings."""
    project = _project(tmp_path_factory, "reference")
    run_kedro(project, env="new")
    return project


def _table(project: Path, name: str):
    path = latest(project / "data/08_reporting" / name)
    if name == "runs.csv":
        return pd.read_csv(path).drop(columns=TIMING_COLUMNS)
    return path.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("pattern", KILL_POINTS.values(), ids=KILL_POINTS.keys())
def test_kill_9_at_a_save_then_only_missing_outputs_gives_the_uninterrupted_tables(
        pattern, old_results, reference, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(old_results, project)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AT, pattern], cwd=project, capture_output=True, text=True,
        env=os.environ | {"JAX_PLATFORMS": "cpu", "KEDRO_DISABLE_TELEMETRY": "1"}, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]

    run_kedro(project, env="new", only_missing_outputs=True)

    for name in TABLES:
        new, expected = _table(project, name), _table(reference, name)
        if isinstance(new, pd.DataFrame):
            pd.testing.assert_frame_equal(new, expected, check_exact=True)
        else:
            assert new == expected, name
    assert not list((project / "data").rglob(".*.tmp"))  # the killed save's leftover was removed
