"""Results on disk are trusted only when the configuration made them (docs/operations.md, "Provenance and resume").

Each test copies the session's ``tiny_project`` (a complete ``kedro run --env tiny``) and changes
the configuration or the files the way a user would, then checks that nothing is silently reused:
reporting refuses results of other settings, a sweep refuses data of other settings, a run whose
files do not match its commit record is recomputed, and the environments write to different data
roots.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from ntk_linearity.provenance.ledger import StaleDataError, StaleResultsError
from ntk_linearity.pipelines.schema import TIMING_COLUMNS
from ntk_linearity.experiment.parameters import validate_parameters
from ntk_linearity.provenance.resume import plan_resume
from ntk_linearity.experiment.config import default_config_loader

from kedro_project_utils import latest

RUN = "width_sweep.linear_m8_s0"
RUN_DATASETS = "width_sweep.linear.linear_m8_s0"  # the run's Kedro namespace <sweep>.<group>.<run>
REPORTING = "data/08_reporting"


def _copy(tiny_project: Path, tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(tiny_project, project)
    return project


def _session(project: Path, runtime_params: dict | None = None) -> KedroSession:
    bootstrap_project(project)
    return KedroSession.create(project_path=project, env="tiny", runtime_params=runtime_params)


def _versions(project: Path) -> dict[str, int]:
    return {path.name: len(list(path.iterdir())) for path in (project / REPORTING).iterdir() if path.is_dir()}


def test_reporting_refuses_results_made_with_other_settings(tiny_project, tmp_path):
    """`kedro run --params training.max_steps=4000,hessian.lanczos_steps=5 --pipelines reporting`
    used to render a report that states 4000 steps for results of 60."""
    project = _copy(tiny_project, tmp_path)
    before = _versions(project)
    changed = {"training": {"max_steps": 4000}, "hessian": {"lanczos_steps": 5}}
    with _session(project, changed) as session, pytest.raises(StaleResultsError) as refused:
        session.run(pipeline_names=["reporting"])
    message = refused.value.message
    n_runs = len(pd.read_csv(latest(project / "data" / "08_reporting" / "runs.csv")))
    assert f"{n_runs} runs (width_sweep.linear_m8_s0, " in message  # every run of the tiny grid
    assert "hessian.lanczos_steps 16 -> 5; training.max_steps 60 -> 4000" in message
    assert "kedro run --only-missing-outputs" in message
    assert _versions(project) == before  # nothing was written


def test_a_sweep_refuses_data_generated_with_other_settings(tiny_project, tmp_path):
    """`kedro run --namespaces sweeps.width_sweep` after a change of data.* used the old data."""
    project = _copy(tiny_project, tmp_path)
    data = project / "data/01_raw/synthetic_data.npz"
    stamp = data.stat().st_mtime_ns
    with _session(project, {"data": {"n_samples": 40}}) as session, pytest.raises(StaleDataError) as refused:
        session.run(namespaces=["sweeps.width_sweep"])
    assert "data.n_samples 32 -> 40" in refused.value.message
    assert "kedro run --pipelines data_generation" in refused.value.message
    assert data.stat().st_mtime_ns == stamp


def test_a_convolutional_sweep_refuses_images_generated_with_other_settings(tiny_project, tmp_path):
    """Each family's runs check the data set they read: the images for a convolutional sweep."""
    project = _copy(tiny_project, tmp_path)
    images = project / "data/01_raw/synthetic_images.npz"
    stamp = images.stat().st_mtime_ns
    with _session(project, {"images": {"n_samples": 12}}) as session, pytest.raises(StaleDataError) as refused:
        session.run(namespaces=["sweeps.cnn_channel_sweep"])
    assert refused.value.message.startswith("synthetic_images cannot be used: images.n_samples 8 -> 12")
    assert images.stat().st_mtime_ns == stamp


def _mix_the_files_of_a_run(project: Path) -> None:
    """What a kill between the saves of a training node leaves: a new w_T beside the old metrics."""
    folder = project / "data/06_models" / RUN.replace(".", "/")
    final = np.load(folder / "final_params.npz")
    mixed = {name: value + np.float32(1e-3) for name, value in final.items()}
    np.savez(folder / "final_params.npz", **mixed)


def test_reporting_refuses_a_run_whose_files_do_not_match_its_commit(tiny_project, tmp_path):
    project = _copy(tiny_project, tmp_path)
    _mix_the_files_of_a_run(project)
    with _session(project) as session, pytest.raises(StaleResultsError, match=(
            f"1 run \\({RUN}\\): final_params is not the one its summary was made from")):
        session.run(pipeline_names=["reporting"])


def test_reporting_refuses_a_copy_of_the_summaries_that_is_not_the_runs_commit(tiny_project, tmp_path):
    """Reporting reads each sweep's copy of its runs' summaries (<sweep>.summaries); a copy that lacks a
    run, or holds another summary than the run's committed one, is refused, never gathered."""
    project = _copy(tiny_project, tmp_path)
    copy_path = project / "data/07_model_output/width_sweep/summaries.json"
    summaries = json.loads(copy_path.read_text())
    del summaries[RUN]
    copy_path.write_text(json.dumps(summaries))
    with _session(project) as session, pytest.raises(StaleResultsError, match=(
            f"1 run \\({RUN}\\): width_sweep.summaries does not hold its committed summary")):
        session.run(pipeline_names=["reporting"])


def _plan(project: Path, parameters: dict, pipeline_name: str = "__default__"):
    """What `kedro run --only-missing-outputs` with ``parameters`` would recompute."""
    from kedro.framework.project import pipelines  # noqa: PLC0415

    with _session(project) as session:
        catalog = session.load_context().catalog
        return plan_resume(validate_parameters(parameters), pipelines[pipeline_name], catalog, True)


def _tiny_parameters(project: Path) -> dict:
    loader = OmegaConfigLoader(str(project / "conf"), env="tiny", base_env="base", default_run_env="local",
                               merge_strategy={"parameters": "soft"})
    return copy.deepcopy(dict(loader["parameters"]))


@pytest.mark.slow
def test_only_missing_outputs_recomputes_exactly_the_runs_that_are_not_done(tiny_project, tmp_path):
    project = _copy(tiny_project, tmp_path)
    parameters = _tiny_parameters(project)
    unchanged = _plan(project, parameters)
    assert unchanged.recomputed == {}
    # derived tables, figures and the report are always rebuilt from the committed runs
    assert {"report_html", "runs_table", "width_sweep.results", "width_sweep.summaries",
            "width_sweep.linear.summaries"} <= unchanged.missing
    assert not any(name.startswith(RUN_DATASETS) for name in unchanged.missing)

    _mix_the_files_of_a_run(project)
    mixed = _plan(project, parameters)
    assert mixed.recomputed == {RUN: ["final_params is not the one its summary was made from"]}
    assert {f"{RUN_DATASETS}.{name}" for name in ("initial_params", "final_params", "run_summary")} <= mixed.missing

    parameters["training"]["max_steps"] = 80
    other = _plan(project, parameters)
    assert set(other.recomputed) == {run.namespace for run in validate_parameters(parameters).runs}
    assert all(why == ["training.max_steps 60 -> 80"] for ns, why in other.recomputed.items() if ns != RUN)


@pytest.mark.slow
def test_a_mixed_run_is_recomputed_and_the_tables_match_the_uninterrupted_run(tiny_project, tmp_path):
    project = _copy(tiny_project, tmp_path)
    _mix_the_files_of_a_run(project)
    with _session(project) as session:
        session.run(only_missing_outputs=True)
    for table in ("runs.csv", "table1_scaling.csv", "scaling.csv", "training_curves.csv", "table1.md"):
        new, old = latest(project / REPORTING / table), latest(tiny_project / REPORTING / table)
        if table == "runs.csv":
            pd.testing.assert_frame_equal(pd.read_csv(new).drop(columns=TIMING_COLUMNS),
                                          pd.read_csv(old).drop(columns=TIMING_COLUMNS), check_exact=True)
        else:
            assert new.read_text() == old.read_text(), table


def test_environments_write_to_their_own_data_roots():
    """`make run-paper` then `make run ARGS="--pipelines reporting"` mixed the two grids."""
    paths = {}
    for env in ("local", "paper"):
        catalog = default_config_loader(env)["catalog"]
        paths[env] = {name: entry["filepath"] for name, entry in catalog.items() if "filepath" in entry}
        paths[env] |= {f"{name}:{key}": sub["filepath"] for name, entry in catalog.items()  # a bundle's entries
                       for key, sub in entry.get("entries", {}).items()}
    assert paths["local"]["report_html"] == "data/08_reporting/report.html"
    assert paths["paper"]["report_html"] == "data/paper/08_reporting/report.html"
    assert not set(paths["local"].values()) & set(paths["paper"].values())
