"""``ntk_linearity.execution.runners.DaskRunner``: grouping, failures, Ctrl-C, and the same results as the
SequentialRunner.

* Grouping and the persisted-boundary check need no cluster.
* Toy pipelines (functions of this module, pickled by value for the workers) run on one LocalCluster
  of 2 worker processes shared by the module (``scheduler_address``: the "connect to a running
  scheduler" path).
* The slow tests run the project's own pipelines on a tiny grid through KedroSessions, each starting
  its own LocalCluster from ``conf/<env>/dask.yml``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import pandas as pd
import psutil
import pytest
from distributed import LocalCluster
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline, node
from kedro_datasets.json import JSONDataset

from ntk_linearity.pipelines.schema import TIMING_COLUMNS
from ntk_linearity.execution.runners import DaskRunner, DaskRunnerError
from ntk_linearity.execution.runners.dask_runner import STOP_EVENT_PREFIX
from ntk_linearity.execution.runners.grouping import group_nodes

from kedro_project_utils import (KEDRO, MINI, N_SMALL_RUNS, assert_nothing_partial, data_files, latest, make_project,
                                 run_kedro, sweep_grid, write_env)

# The toy datasets are named like the project's namespaced ones (sweep.<run>.<name>).
pytestmark = pytest.mark.filterwarnings("ignore:One or more dataset names contain '.' characters")

# The workers import this module's node functions by value (tests/ is not on their path).
cloudpickle.register_pickle_by_value(sys.modules[__name__])

TABLES = ["runs_table", "table1_scaling", "table1_markdown", "training_curves", "scaling_table"]
# MINI with one seed: linear head at m = 8, 16, the bottleneck network and a depth-2 network (4 runs).
GRID = {**MINI, "sweeps": sweep_grid(
    width_sweep={"head": ["linear"], "width": [8, 16], "seed": [0]},
    bottleneck_sweep={"bottleneck_width": [2], "width": [8], "seed": [0]},
    depth_sweep={"depth": [2], "width": [8], "seed": [0]},
)}
DASK_YML = {"local_cluster": {"n_workers": 2, "threads_per_worker": 1, "dashboard_address": None}}


# ---------------------------------------------------------------------------------------------
# Toy nodes
# ---------------------------------------------------------------------------------------------


def make_data() -> int:
    return 1


def add_one(value: int) -> int:
    return value + 1


def add_one_after_the_stop(value: int) -> int:
    """Returns once the runner has told the tasks to stop (run id ``toy-failure``)."""
    from distributed import Event  # noqa: PLC0415

    assert Event(f"{STOP_EVENT_PREFIX}toy-failure").wait(timeout=120)
    return value + 1


def fail(value: int) -> int:
    raise ValueError(f"boom at {value}")


def total(*values: int) -> int:
    return sum(values)


def x64_enabled(value: int) -> bool:
    import jax  # noqa: PLC0415

    return bool(jax.config.jax_enable_x64)


def toy_catalog(folder: Path, names) -> DataCatalog:
    return DataCatalog({name: JSONDataset(filepath=str(folder / f"{name}.json")) for name in names})


def toy_pipeline(run_nodes: dict[str, list], gather=None) -> Pipeline:
    """``data`` -> each run ``sweep.<run>`` (a chain of nodes in the namespace ``sweeps.sweep.g.<run>``,
    writing ``sweep.g.<run>.step<k>``) -> optional gather node ``report``."""
    nodes = [node(make_data, None, "data", name="make_data")]
    for run, funcs in run_nodes.items():
        namespace = f"sweeps.sweep.g.{run}"
        previous = "data"
        for step, func in enumerate(funcs):
            output = f"sweep.g.{run}.step{step}"
            nodes.append(node(func, previous, output, name=f"step{step}", namespace=namespace))
            previous = output
    if gather is not None:
        finals = [f"sweep.g.{run}.step{len(funcs) - 1}" for run, funcs in run_nodes.items()]
        nodes.append(node(gather, finals, "report", name="report"))
    return Pipeline(nodes)


def outputs_of(pipeline: Pipeline) -> set[str]:
    return {out for n in pipeline.nodes for out in n.outputs}


@pytest.fixture(scope="module")
def scheduler():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


# ---------------------------------------------------------------------------------------------
# Grouping
# ---------------------------------------------------------------------------------------------


def test_nodes_are_grouped_by_run_namespace():
    pipeline = toy_pipeline({"a": [add_one, add_one, add_one], "b": [add_one]}, gather=total) + Pipeline(
        [node(total, ["sweep.g.a.step2", "sweep.g.b.step0"], "collected", name="collect_runs",
              namespace="sweep")])
    groups = {group.name: group for group in group_nodes(pipeline)}
    assert set(groups) == {"make_data", "sweep.a", "sweep.b", "report", "sweep.collect_runs"}
    assert [n.name for n in groups["sweep.a"].nodes] == [f"sweeps.sweep.g.a.step{k}" for k in range(3)]
    assert groups["sweep.a"].upstream == {"make_data"}
    assert groups["report"].upstream == groups["sweep.collect_runs"].upstream == {"sweep.a", "sweep.b"}
    order = [group.name for group in group_nodes(pipeline)]
    assert order.index("make_data") < order.index("sweep.a") < order.index("report")


def test_project_pipeline_has_one_task_per_run(kedro_project):
    from kedro.framework.project import pipelines  # noqa: PLC0415
    from kedro.framework.session import KedroSession  # noqa: PLC0415
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    write_env(kedro_project, "grid", GRID)
    bootstrap_project(kedro_project)
    with KedroSession.create(project_path=kedro_project, env="grid") as session:
        session.load_context()
        groups = group_nodes(pipelines["__default__"])
    runs = [g for g in groups if len(g.nodes) > 1]
    assert len(runs) == 4 + N_SMALL_RUNS  # GRID's own runs and the small sweeps every test grid gets
    assert sorted(g.name for g in runs if g.name.split(".")[0] in ("width_sweep", "bottleneck_sweep", "depth_sweep")) == [
        "bottleneck_sweep.mb2_m8_s0", "depth_sweep.L2_m8_s0", "width_sweep.linear_m16_s0", "width_sweep.linear_m8_s0"]
    assert all([n.name.rsplit(".", 1)[1] for n in g.nodes] ==
               ["initialise_parameters", "train_network", "analyse_hessian", "summarise_run"] for g in runs)
    assert groups[0].name == "data_generation.generate_synthetic_data"


def test_a_memory_dataset_between_tasks_is_refused_before_anything_runs(tmp_path):
    pipeline = toy_pipeline({"a": [add_one]}, gather=total)
    catalog = toy_catalog(tmp_path, ["data", "report"])  # sweep.g.a.step0 is a MemoryDataset
    runner = DaskRunner(dask_config={"scheduler_address": "tcp://127.0.0.1:9"})  # never contacted
    with pytest.raises(DaskRunnerError, match=r"'sweep\.g\.a\.step0' \(sweep\.a -> report\)"):
        runner.run(pipeline, catalog)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Toy pipelines on a shared LocalCluster
# ---------------------------------------------------------------------------------------------


def test_failing_run_is_named_and_stops_the_others(scheduler, tmp_path, caplog):
    pipeline = toy_pipeline({"bad": [fail], "slow": [add_one_after_the_stop, add_one]}, gather=total)
    catalog = toy_catalog(tmp_path, outputs_of(pipeline))
    with caplog.at_level(logging.INFO, logger="ntk_linearity.execution.runners"), \
            pytest.raises(ValueError, match="boom at 1") as error:
        DaskRunner(scheduler_address=scheduler).run(pipeline, catalog, run_id="toy-failure")
    assert any("task group 'sweep.bad' failed at node 'sweeps.sweep.g.bad.step0'" in note
               for note in error.value.__notes__)
    assert "Task sweep.bad failed: ValueError: boom at 1" in caplog.text
    assert "did not run or stopped early: report, sweep.slow" in caplog.text
    # The slow run's running node finished and saved; its next node and the gather node never ran.
    assert (tmp_path / "sweep.g.slow.step0.json").exists()
    assert not (tmp_path / "sweep.g.slow.step1.json").exists()
    assert not (tmp_path / "report.json").exists()


def test_only_missing_outputs(scheduler, tmp_path):
    pipeline = toy_pipeline({"a": [add_one, add_one], "b": [add_one]}, gather=total)
    catalog = toy_catalog(tmp_path, outputs_of(pipeline))
    DaskRunner(scheduler_address=scheduler).run(pipeline, catalog)
    assert json.loads((tmp_path / "report.json").read_text()) == 3 + 2
    before = {path.name: path.stat().st_mtime_ns for path in tmp_path.iterdir()}
    (tmp_path / "sweep.g.a.step1.json").unlink()

    DaskRunner(scheduler_address=scheduler).run(pipeline, toy_catalog(tmp_path, outputs_of(pipeline)),
                                                only_missing_outputs=True)

    after = {path.name: path.stat().st_mtime_ns for path in tmp_path.iterdir()}
    assert {name for name in after if after[name] != before.get(name)} == {"sweep.g.a.step1.json"}


def test_a_node_the_workers_cannot_import_fails_its_task_by_name(scheduler, tmp_path, monkeypatch):
    """A node function pickled by reference to a module only the driver has: the task raises the import
    error with its group's name, the workers stay in the cluster (no task waits forever for one)."""
    (tmp_path / "driver_only_nodes.py").write_text("def add_two(value):\n    return value + 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "driver_only_nodes", raising=False)
    from driver_only_nodes import add_two  # noqa: PLC0415

    pipeline = toy_pipeline({"a": [add_one], "b": [add_two]}, gather=total)
    catalog = toy_catalog(tmp_path, outputs_of(pipeline))
    with pytest.raises(ModuleNotFoundError, match="driver_only_nodes") as error:
        DaskRunner(scheduler_address=scheduler).run(pipeline, catalog)
    assert any("task group 'sweep.b' failed while unpickling" in note for note in error.value.__notes__)
    assert not (tmp_path / "report.json").exists()
    DaskRunner(scheduler_address=scheduler).run(toy_pipeline({"c": [add_one]}), toy_catalog(tmp_path, ["data"]))


def test_jax_x64_and_memory_outputs_reach_the_driver(scheduler, tmp_path):
    import jax  # noqa: PLC0415

    pipeline = toy_pipeline({"a": [x64_enabled]})  # sweep.g.a.step0 is a free MemoryDataset output
    catalog = toy_catalog(tmp_path, ["data"])
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", not previous)
    try:
        DaskRunner(scheduler_address=scheduler).run(pipeline, catalog)
    finally:
        jax.config.update("jax_enable_x64", previous)
    assert catalog.load("sweep.g.a.step0") is (not previous)


# ---------------------------------------------------------------------------------------------
# The project's pipelines
# ---------------------------------------------------------------------------------------------


def _grid_project(tmp_path: Path, name: str, dask: bool) -> Path:
    (tmp_path / name).mkdir()
    project = make_project(tmp_path / name)
    write_env(project, "grid", GRID)
    if dask:
        (project / "conf" / "grid" / "dask.yml").write_text(json.dumps(DASK_YML))
    return project


def _tables(project: Path) -> dict:
    reporting = project / "data" / "08_reporting"
    runs_csv = latest(reporting / "runs.csv")
    return {
        "runs": pd.read_csv(runs_csv).drop(columns=TIMING_COLUMNS).to_csv(index=False),
        "table1_scaling": latest(reporting / "table1_scaling.csv").read_bytes(),
        "table1": latest(reporting / "table1.md").read_bytes(),
        "training_curves": latest(reporting / "training_curves.csv").read_bytes(),
        "scaling": latest(reporting / "scaling.csv").read_bytes(),
        "models": {str(p.relative_to(project)): p.read_bytes()
                   for p in sorted((project / "data" / "06_models").rglob("*.npz"))},
    }


@pytest.mark.slow
def test_dask_runner_gives_the_sequential_results(tmp_path):
    """SequentialRunner, then DaskRunner (2 workers) in two steps: one run by --namespaces, then the rest
    with --only-missing-outputs, which must leave the first step's files alone."""
    sequential = _grid_project(tmp_path, "sequential", dask=False)
    run_kedro(sequential, env="grid", to_outputs=TABLES)

    project = _grid_project(tmp_path, "dask", dask=True)
    raw = "data/01_raw/synthetic_data.npz"  # deterministic; saves a task in the first step
    (project / raw).write_bytes((sequential / raw).read_bytes())
    run_kedro(project, env="grid", runner=DaskRunner(), namespaces=["sweeps.width_sweep.linear.linear_m8_s0"])
    first = data_files(project)
    assert sorted(Path(p).parent.name for p in first if p.endswith("hessian_metrics.json")) == ["linear_m8_s0"]

    run_kedro(project, env="grid", runner=DaskRunner(), only_missing_outputs=True)

    after = data_files(project)
    assert {path: after[path] for path in first} == first
    assert _tables(project) == _tables(sequential)
    # Runs differ in their timing columns only.
    runs = pd.read_csv(latest(project / "data" / "08_reporting" / "runs.csv"))
    assert set(pd.read_csv(latest(sequential / "data" / "08_reporting" / "runs.csv")).columns) == set(runs.columns)
    assert latest(project / "data" / "08_reporting" / "report.html").stat().st_size > 0


@pytest.mark.slow
def test_ctrl_c_shuts_the_local_cluster_down(tmp_path):
    """Ctrl-C in a terminal: SIGINT to the whole foreground process group (kedro and its workers)."""
    project = _grid_project(tmp_path, "interrupted", dask=True)
    with open(project / "kedro.log", "w") as log:
        process = subprocess.Popen(
            [str(KEDRO), "run", "--env", "grid", "--runner", "ntk_linearity.execution.runners.DaskRunner"],
            cwd=project, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env=os.environ | {"JAX_PLATFORMS": "cpu", "KEDRO_DISABLE_TELEMETRY": "1"},
        )
    try:
        raw = project / "data" / "01_raw" / "synthetic_data.npz"
        deadline = time.monotonic() + 300
        while not raw.exists():  # the first task has run: the workers are up
            assert process.poll() is None, (project / "kedro.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(1)  # the runs have started
        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 2  # the two worker processes (and multiprocessing's helpers)
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=120) != 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    log = (project / "kedro.log").read_text()
    assert "Aborted!" in log, log
    assert "DaskRunner: interrupted" in log, log
    _, alive = psutil.wait_procs(children, timeout=30)
    assert alive == []
    assert_nothing_partial(project)
