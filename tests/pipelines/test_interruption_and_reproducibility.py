"""Interrupted runs resume without recomputing finished work, repeated runs give identical tables, and
a damaged persisted array is named.

All compare against one uninterrupted in-process run of the MINI sweep (``reference``), which like
the repeated run stops at the tables (``TABLES``; figures and the report only read them).
The timing columns (``TIMING_COLUMNS``) are the only columns of runs.csv that are not reproducible: it is dropped before the
comparison; every other column, table1_scaling.csv, training_curves.csv and table1.md must match
exactly.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DatasetError
from kedro_datasets.json import JSONDataset

from ntk_linearity.datasets import AtomicJSONDataset
from ntk_linearity.pipelines.schema import TIMING_COLUMNS

from kedro_project_utils import (MINI, N_SMALL_RUNS, assert_nothing_partial, data_files, kedro_cli, latest, make_project,
                                 run_kedro, write_env)

N_RUNS = 2 * 2 + 2 + 2 + N_SMALL_RUNS  # MINI's own runs and the small sweeps every test grid gets
TABLES = ["runs_table", "table1_scaling", "table1_markdown", "training_curves"]


def _mini_project(tmp_path_factory, name: str) -> Path:
    project = make_project(tmp_path_factory.mktemp(name))
    write_env(project, "mini", MINI)
    return project


def _results(project: Path) -> dict:
    """The final tables of a run, without the wall-clock column."""
    reporting = project / "data" / "08_reporting"
    return {
        "runs": pd.read_csv(latest(reporting / "runs.csv")).drop(columns=TIMING_COLUMNS),
        "table1_scaling": latest(reporting / "table1_scaling.csv").read_text(),
        "table1": latest(reporting / "table1.md").read_text(),
        "training_curves": latest(reporting / "training_curves.csv").read_text(),
    }


def _assert_same_results(project: Path, reference: Path) -> None:
    results, expected = _results(project), _results(reference)
    pd.testing.assert_frame_equal(results.pop("runs"), expected.pop("runs"), check_exact=True)
    assert results == expected


def _training_metrics(project: Path) -> list[Path]:
    return sorted((project / "data" / "07_model_output").glob("*/*/training_metrics.json"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted in-process run of the default pipeline."""
    project = _mini_project(tmp_path_factory, "reference")
    run_kedro(project, env="mini", to_outputs=TABLES)
    return project


@pytest.mark.slow
def test_second_run_in_a_new_process_gives_identical_tables(reference, tmp_path_factory):
    project = _mini_project(tmp_path_factory, "repeat")
    assert kedro_cli(project, "run", "--env", "mini", "--to-outputs", ",".join(TABLES)).wait(timeout=600) == 0
    _assert_same_results(project, reference)


@pytest.mark.slow
def test_interrupted_run_resumes_with_only_missing_outputs(reference, tmp_path_factory):
    project = _mini_project(tmp_path_factory, "interrupted")
    process = kedro_cli(project, "run", "--env", "mini")
    while not _training_metrics(project):  # Ctrl-C once the first run has finished training
        assert process.poll() is None, (project / "kedro.log").read_text()
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) != 0
    assert "Aborted!" in (project / "kedro.log").read_text()  # click's answer to KeyboardInterrupt
    finished = {path.parent for path in _training_metrics(project)}
    assert 0 < len(finished) < N_RUNS
    assert_nothing_partial(project)
    before = data_files(project)
    committed = {path.parent.relative_to(project / "data" / "07_model_output").parts
                 for path in (project / "data" / "07_model_output").glob("*/*/run_summary.json")}

    run_kedro(project, env="mini", only_missing_outputs=True)

    after = data_files(project)

    def trusted(path: str) -> bool:  # the data, reporting's whole files, every file of a committed run
        parts = Path(path).parts
        return parts[0] in ("01_raw", "08_reporting") or (len(parts) == 4 and parts[1:3] in committed)

    unchanged = {path: mtime for path, mtime in before.items() if trusted(path)}
    assert {path: after[path] for path in unchanged} == unchanged
    assert len(_training_metrics(project)) == N_RUNS
    _assert_same_results(project, reference)


@pytest.mark.parametrize(("dataset_class", "leaves_partial_file"),
                         [(JSONDataset, True), (AtomicJSONDataset, False)])
def test_json_save_interrupted_mid_write(tmp_path, dataset_class, leaves_partial_file):
    """Ctrl-C while ``json.dump`` streams a file: kedro-datasets' JSONDataset leaves a truncated file
    that ``--only-missing-outputs`` would count as done; AtomicJSONDataset keeps the previous one."""

    def ctrl_c(value):
        raise KeyboardInterrupt

    path = tmp_path / "metrics.json"
    dataset = dataset_class(filepath=str(path), save_args={"default": ctrl_c})
    with pytest.raises(KeyboardInterrupt):
        dataset.save({"delta_k": 0.5, "curves": {"loss": [1.0, 0.1]}, "unserialisable": object()})
    if leaves_partial_file:
        assert path.exists()
        with pytest.raises(json.JSONDecodeError):
            json.loads(path.read_text())
    else:
        assert list(tmp_path.iterdir()) == []
        dataset.save({"delta_k": 0.5})
        with pytest.raises(KeyboardInterrupt):
            dataset.save({"delta_k": 0.25, "unserialisable": object()})
        assert dataset.load() == {"delta_k": 0.5}
        assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_truncated_initial_params_are_named_in_the_error(tiny_project, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(tiny_project, project)
    damaged = project / "data" / "06_models" / "width_sweep" / "linear_m32_s0" / "initial_params.npz"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    with pytest.raises(DatasetError, match=re.escape(f"NPZ file '{damaged}' is corrupted or truncated")):
        run_kedro(project, env="tiny", node_names=["sweeps.width_sweep.linear.linear_m32_s0.train_network"])
