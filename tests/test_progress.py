"""``ntk_linearity.execution.progress``: counts, time left, log lines, publishing in-process and from a Dask worker.

Times come from injected clocks; every expected number is worked out by hand in the comments.
"""

from __future__ import annotations

import io
import shutil
import logging
import sys
import time
from pathlib import Path

import cloudpickle
import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline, node
from kedro_datasets.json import JSONDataset
from rich.console import Console

from ntk_linearity.execution.progress.display import (
    LogDisplay,
    RichDisplay,
    format_duration,
    format_final_line,
    format_line,
    render,
)
from ntk_linearity.execution.progress.events import (
    ActiveProgress,
    activate,
    active_progress,
    close_active,
    forward_progress,
    publish,
    publish_step,
    route_worker_logs,
    set_run_id,
)
from ntk_linearity.execution.progress.hooks import ENV_INTERVAL, ENV_MODE, ProgressHooks
from ntk_linearity.execution.progress.tracker import (
    ProgressState,
    RunProgress,
    RunTracker,
    estimate_time_left,
    runs_of,
)

PROGRESS_LOGGER = "ntk_linearity.execution.progress"  # the logger of the progress lines (all modules)

# Toy datasets are named like the project's namespaced ones (<sweep>.<run>.<name>).
pytestmark = pytest.mark.filterwarnings("ignore:One or more dataset names contain '.' characters")

# The Dask worker imports this module's functions by value (tests/ is not on its path).
cloudpickle.register_pickle_by_value(sys.modules[__name__])


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _no_active_progress(monkeypatch):
    monkeypatch.delenv(ENV_MODE, raising=False)
    monkeypatch.delenv(ENV_INTERVAL, raising=False)
    yield
    close_active(succeeded=False)


def identity(value):
    return value


def toy_runs(*names: str) -> Pipeline:
    """Per run ``sweep.<name>`` (namespace ``sweeps.sweep.g.<name>``): init -> train, plus a group-level node
    (not a run)."""
    nodes = []
    for name in names:
        nodes += [node(identity, "data", f"sweep.g.{name}.params", name="init", namespace=f"sweeps.sweep.g.{name}"),
                  node(identity, f"sweep.g.{name}.params", f"sweep.g.{name}.result", name="train",
                       namespace=f"sweeps.sweep.g.{name}")]
    nodes.append(node(lambda *xs: len(xs), [f"sweep.g.{name}.result" for name in names], "sweep.g.table",
                      name="gather", namespace="sweeps.sweep.g"))
    return Pipeline(nodes)


def event(kind: str, run: str, node_name: str | None = None, **fields) -> dict:
    return {"event": kind, "run": run, **({"node": node_name} if node_name else {}), **fields}


# ---------------------------------------------------------------------------------------------
# Counting and time left
# ---------------------------------------------------------------------------------------------


def test_runs_are_the_three_level_namespaces_named_without_their_group():
    runs = runs_of(toy_runs("a", "b").nodes)
    assert runs == {"sweep.a": {"sweeps.sweep.g.a.init", "sweeps.sweep.g.a.train"}, "sweep.b": {"sweeps.sweep.g.b.init", "sweeps.sweep.g.b.train"}}


def test_time_left_by_hand():
    means = {"init": 10.0, "train": 20.0}
    # run 1: init running for 4 s (10 - 4 = 6 left) + train 20; run 2: train 20 -> 46 s of work,
    # shared by min(4 slots, 2 runs) = 2 -> 23 s.
    assert estimate_time_left([[("init", 4.0), ("train", None)], [("train", None)]], means, 4) == (23.0, False)
    # A node past its kind's mean counts 0; one slot.
    assert estimate_time_left([[("train", 25.0)], [("init", None)]], means, 1) == (10.0, False)
    # A kind never finished ("hessian") adds nothing: 10 s is a lower bound.
    assert estimate_time_left([[("hessian", None), ("init", None)]], means, 1) == (10.0, True)
    # ... and a lower bound of 0 says nothing.
    assert estimate_time_left([[("hessian", None)]], means, 1) == (None, False)
    assert estimate_time_left([[("init", None)]], {}, 1) == (None, False)
    assert estimate_time_left([], means, 1) == (0.0, False)


def test_tracker_counts_nodes_runs_and_time_left():
    clock = Clock()
    tracker = RunTracker(runs_of(toy_runs("a", "b").nodes), clock=clock)
    clock.now = 1.0
    tracker.handle(event("node_started", "sweep.a", "sweeps.sweep.g.a.init"))
    clock.now = 3.0
    tracker.handle(event("node_finished", "sweep.a", "sweeps.sweep.g.a.init"))  # init took 2 s
    tracker.handle(event("node_started", "sweep.a", "sweeps.sweep.g.a.train"))
    tracker.handle(event("step", "sweep.a", step=30, total=100, loss=0.5))
    tracker.handle(event("node_started", "sweep.other", "sweep.other.init"))  # not counted: ignored
    clock.now = 4.0
    state = tracker.snapshot()
    assert (state.total, state.done, state.failed, state.nodes_total, state.nodes_done) == (2, 0, 0, 4, 1)
    assert state.running == (RunProgress("sweep.a", "train", 30, 100, 0.5),)
    # init's mean is 2 s; train never finished: b's init (2 s) is all that is known, over one slot.
    assert (state.time_left, state.at_least, state.elapsed) == (2.0, True, 4.0)

    clock.now = 9.0
    tracker.handle(event("node_finished", "sweep.a", "sweeps.sweep.g.a.train"))  # train took 6 s
    state = tracker.snapshot()
    assert (state.done, state.nodes_done, state.running) == (1, 2, ())
    assert (state.time_left, state.at_least) == (2.0 + 6.0, False)  # b: init + train

    clock.now = 10.0
    tracker.handle(event("node_started", "sweep.b", "sweeps.sweep.g.b.init"))
    tracker.handle(event("step", "sweep.b", step=1, total=2, loss=1.0))
    assert tracker.snapshot().running == (RunProgress("sweep.b", "init", 1, 2, 1.0),)
    tracker.handle(event("node_started", "sweep.b", "sweeps.sweep.g.b.train"))  # a new node drops the old step
    assert tracker.snapshot().running == (RunProgress("sweep.b", "train"),)
    tracker.handle(event("node_failed", "sweep.b", "sweeps.sweep.g.b.train"))
    state = tracker.snapshot()
    assert (state.done, state.failed, state.running, state.time_left) == (1, 1, (), 0.0)


def test_parallelism_is_the_most_nodes_seen_running_at_once():
    clock = Clock()
    tracker = RunTracker(runs_of(toy_runs("a", "b", "c").nodes), clock=clock)
    tracker.handle(event("node_started", "sweep.a", "sweeps.sweep.g.a.init"))
    tracker.handle(event("node_started", "sweep.b", "sweeps.sweep.g.b.init"))
    clock.now = 4.0
    tracker.handle(event("node_finished", "sweep.a", "sweeps.sweep.g.a.init"))
    tracker.handle(event("node_finished", "sweep.b", "sweeps.sweep.g.b.init"))
    # init mean 4 s; train unknown; c's init: 4 s over min(2 slots, 3 runs) = 2 -> 2 s.
    assert tracker.snapshot().time_left == 2.0
    tracker.set_parallelism(3)  # the Dask cluster's threads: 4 s over 3 slots
    assert tracker.snapshot().time_left == pytest.approx(4.0 / 3)


def test_finish_marks_every_run_not_failed_done():
    tracker = RunTracker(runs_of(toy_runs("a", "b").nodes), clock=Clock())
    tracker.handle(event("node_started", "sweep.b", "sweeps.sweep.g.b.init"))
    tracker.handle(event("node_failed", "sweep.b", "sweeps.sweep.g.b.init"))
    tracker.finish()
    state = tracker.snapshot()
    assert (state.done, state.failed, state.nodes_done, state.running) == (1, 1, 2, ())


# ---------------------------------------------------------------------------------------------
# Displays
# ---------------------------------------------------------------------------------------------

STATE = ProgressState(total=105, done=12, failed=0, nodes_total=420, nodes_done=50,
                      running=(RunProgress("width_sweep.linear_m1000_s0", "train_network", 300, 10000, 1.2e-3),
                               RunProgress("width_sweep.linear_m30_s1", "analyse_hessian")),
                      elapsed=190.0, time_left=245.0)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (59.4, "59 s"), (65, "1 min 05 s"), (599, "9 min 59 s"), (600, "10 min"), (3900, "1 h 05 min"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_log_line_format():
    assert format_line(STATE) == (
        "runs 12/105 done (50/420 nodes) after 3 min 10 s; running width_sweep.linear_m1000_s0 "
        "(train_network step 300/10000, loss 1.20e-03), width_sweep.linear_m30_s1 (analyse_hessian); "
        "about 4 min 05 s left")
    many = ProgressState(4, 0, 1, 16, 3, tuple(RunProgress(f"s.r{i}", "init") for i in range(5)), 5.0, None)
    assert format_line(many) == ("runs 0/4 done, 1 failed (3/16 nodes) after 5 s; running s.r0 (init), "
                                 "s.r1 (init), s.r2 (init) and 2 more; time left unknown")
    bound = ProgressState(4, 0, 0, 16, 3, (), 5.0, 42.0, at_least=True)
    assert format_line(bound).endswith("; at least 42 s left")
    assert format_final_line(STATE, succeeded=True) == "runs 12/105 done (50/420 nodes) in 3 min 10 s"
    assert format_final_line(STATE, succeeded=False) == "stopped after 3 min 10 s: runs 12/105 done (50/420 nodes)"


def test_log_lines_are_rate_limited(caplog):
    clock = Clock()
    display = LogDisplay(interval=10.0, clock=clock)
    caplog.set_level(logging.INFO, logger=PROGRESS_LOGGER)
    for now in (0.0, 5.0, 9.9, 10.0, 15.0, 25.0):
        clock.now = now
        display.update(lambda: STATE)
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [f"progress: {format_line(STATE)}"] * 3  # at 0, 10 and 25


def test_log_display_start_and_close(caplog):
    caplog.set_level(logging.INFO, logger=PROGRESS_LOGGER)
    display = LogDisplay(interval=3600.0)
    display.start(lambda: STATE)
    display.close(STATE, succeeded=True)
    assert [record.getMessage() for record in caplog.records] == [
        "progress: 105 runs (420 nodes) to run; a progress line every 1 h 00 min",
        f"progress: {format_final_line(STATE, True)}",
    ]


def test_render_shows_the_runs_and_the_running_steps():
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(render(STATE))
    text = console.file.getvalue()
    assert "runs 12/105 done (50/420 nodes)" in text
    assert "3 min 10 s elapsed, about 4 min 05 s left" in text
    assert "width_sweep.linear_m1000_s0" in text and "train_network step 300/10000" in text
    assert "loss 1.20e-03" in text
    assert "width_sweep.linear_m30_s1" in text and "analyse_hessian" in text


# ---------------------------------------------------------------------------------------------
# The hooks and the in-process publish path
# ---------------------------------------------------------------------------------------------


def _json_catalog(tmp_path: Path, pipeline: Pipeline) -> DataCatalog:
    outputs = {name for n in pipeline.nodes for name in n.outputs}
    return DataCatalog({name: JSONDataset(filepath=str(tmp_path / f"{name}.json")) for name in outputs})


def test_hooks_follow_a_pipeline_run_in_process(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=PROGRESS_LOGGER)
    pipeline = toy_runs("a", "b")
    hooks = ProgressHooks(mode="log", interval=3600.0)
    hooks.before_pipeline_run({"only_missing_outputs": False}, pipeline, _json_catalog(tmp_path, pipeline))
    init, train = (n for n in pipeline.nodes if n.namespace == "sweeps.sweep.g.a")
    hooks.before_node_run(init, run_id="session")
    hooks.after_node_run(init)
    hooks.before_node_run(train, run_id="session")
    publish_step("sweep.a", 7, 10, 0.25)  # what train_network's progress callback calls
    state = active_progress().tracker.snapshot()
    assert (state.total, state.nodes_total, state.nodes_done) == (2, 4, 1)
    assert state.running == (RunProgress("sweep.a", "train", 7, 10, 0.25),)
    hooks.after_pipeline_run()
    assert active_progress() is None
    publish_step("sweep.a", 8, 10, 0.2)  # after the run: dropped, no error
    assert caplog.records[-1].getMessage() == "progress: runs 2/2 done (4/4 nodes) in 0 s"


def test_only_missing_outputs_counts_the_runs_that_will_run(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=PROGRESS_LOGGER)
    pipeline = toy_runs("a", "b")
    catalog = _json_catalog(tmp_path, pipeline)
    catalog.save("sweep.g.a.params", 1)
    catalog.save("sweep.g.a.result", 2)  # run a is on disk, run b is not
    ProgressHooks(mode="log").before_pipeline_run({"only_missing_outputs": True}, pipeline, catalog)
    assert active_progress().tracker.snapshot().total == 1
    close_active(succeeded=False)
    ProgressHooks(mode="log").before_pipeline_run({"only_missing_outputs": False}, pipeline, catalog)
    assert active_progress().tracker.snapshot().total == 2


def test_no_display_without_runs_or_when_off(tmp_path, monkeypatch):
    gather_only = Pipeline([n for n in toy_runs("a").nodes if n.name == "sweeps.sweep.g.gather"])
    ProgressHooks().before_pipeline_run({}, gather_only, DataCatalog())
    assert active_progress() is None
    monkeypatch.setenv(ENV_MODE, "off")
    ProgressHooks().before_pipeline_run({}, toy_runs("a"), DataCatalog())
    assert active_progress() is None


def test_bad_settings_are_one_line_errors(monkeypatch):
    with pytest.raises(ValueError, match="mode must be one of auto, rich, log, off; got 'loud'"):
        ProgressHooks(mode="loud")
    with pytest.raises(ValueError, match="interval must be a positive number of seconds; got 0"):
        ProgressHooks(interval=0)
    monkeypatch.setenv(ENV_MODE, "loud")
    with pytest.raises(ValueError, match=r"\$NTK_PROGRESS must be one of"):
        ProgressHooks().before_pipeline_run({}, toy_runs("a"), DataCatalog())
    monkeypatch.setenv(ENV_MODE, "log")
    monkeypatch.setenv(ENV_INTERVAL, "soon")
    with pytest.raises(ValueError, match=r"\$NTK_PROGRESS_INTERVAL must be a positive number of seconds; got 'soon'"):
        ProgressHooks().before_pipeline_run({}, toy_runs("a"), DataCatalog())


def test_publish_never_raises_outside_a_run():
    assert active_progress() is None
    publish_step("sweep.a", 1, 2, 0.5)  # no tracker, not in a Dask task: dropped


# ---------------------------------------------------------------------------------------------
# From a Dask worker process to the driver
# ---------------------------------------------------------------------------------------------


def work_on_a_worker(token: str | None) -> list[str]:
    """On the worker: send progress events of session ``session``, one of another session, then a log
    record (it arrives last: one worker's events keep their order), then put the worker's own log
    handlers back; returns their class names."""
    route_worker_logs(token, "session")
    set_run_id("session")
    publish({"event": "node_started", "run": "sweep.a", "node": "sweeps.sweep.g.a.train"})
    publish_step("sweep.a", 5, 10, 0.5)
    set_run_id("another session")
    publish_step("sweep.a", 9, 10, 9.0)
    logging.getLogger("ntk_linearity.worker_test").warning("hello from the worker")
    route_worker_logs(None, "session")
    return [type(handler).__name__ for handler in logging.getLogger().handlers]


def test_worker_progress_and_logs_reach_the_driver(caplog):
    from distributed import Client, LocalCluster  # noqa: PLC0415

    caplog.set_level(logging.INFO)
    tracker = RunTracker(runs_of(toy_runs("a").nodes))
    live = RichDisplay(Console(file=io.StringIO(), width=120))
    active = ActiveProgress(tracker, live)
    live.start(tracker.snapshot)
    activate(active)
    with (LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
          Client(cluster) as client):
        with forward_progress(client, "session") as token:
            assert token is not None  # a live display: the workers' logs come here
            handlers = client.submit(work_on_a_worker, token, pure=False).result()
            deadline = time.monotonic() + 60
            while "hello from the worker" not in caplog.text:
                assert time.monotonic() < deadline, "the worker's events never arrived"
                time.sleep(0.05)
    assert tracker.snapshot().running == (RunProgress("sweep.a", "train", 5, 10, 0.5),)
    assert "_ToDriver" not in handlers
    forwarded = [r for r in caplog.records if r.getMessage() == "hello from the worker"]
    assert [(r.name, r.levelname) for r in forwarded] == [("ntk_linearity.worker_test", "WARNING")]


def test_forward_progress_does_nothing_without_a_run():
    with forward_progress(client=None, run_id="session") as token:
        assert token is None


# ---------------------------------------------------------------------------------------------
# A real KedroSession (slow)
# ---------------------------------------------------------------------------------------------


class Lines(logging.Handler):
    """Collects the messages of one logger."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def run_with_lines(project: Path, **run_kwargs) -> list[str]:
    """``kedro run --env tiny`` in-process; the messages of the progress logger."""
    from kedro.framework.session import KedroSession  # noqa: PLC0415
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    bootstrap_project(project)  # configures logging: handlers added before it are dropped
    lines = Lines()
    logging.getLogger(PROGRESS_LOGGER).addHandler(lines)
    try:
        with KedroSession.create(project_path=project, env="tiny") as session:
            session.run(pipeline_names=["data_generation", "width_sweep"], **run_kwargs)
    finally:
        logging.getLogger(PROGRESS_LOGGER).removeHandler(lines)
    return lines.lines


@pytest.mark.slow
def test_a_kedro_run_logs_its_progress_and_counts_only_missing_runs(tmp_path, monkeypatch):
    from kedro_project_utils import MINI, make_project, sweep_grid, write_env  # noqa: PLC0415

    monkeypatch.setenv(ENV_MODE, "log")
    project = make_project(tmp_path)
    write_env(project, "tiny", {**MINI, "sweeps": {**MINI["sweeps"], **sweep_grid(
        width_sweep={"head": ["linear"], "width": [8, 16], "seed": [0]})}})
    lines = run_with_lines(project)
    assert lines[0] == "progress: 2 runs (8 nodes) to run; a progress line every 30 s"
    assert lines[-1].startswith("progress: runs 2/2 done (8/8 nodes) in ")
    for folder in ("06_models", "07_model_output"):  # one run lost: only it runs again
        shutil.rmtree(project / "data" / folder / "width_sweep" / "linear_m8_s0")
    lines = run_with_lines(project, only_missing_outputs=True)
    assert lines[0] == "progress: 1 run (4 nodes) to run; a progress line every 30 s"
    assert lines[-1].startswith("progress: runs 1/1 done (4/4 nodes) in ")
