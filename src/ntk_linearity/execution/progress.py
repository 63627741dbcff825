"""Progress you can watch: runs done / total, the runs in progress (step, loss) and the time left.

:class:`ProgressHooks` (in ``settings.HOOKS``) follows every pipeline run that contains sweep runs
(namespaces ``<sweep>.<run>``):

* **What is counted.** ``before_pipeline_run`` counts the runs of the pipeline being run and their
  nodes. Kedro applies ``--only-missing-outputs`` later, inside the runner, so with that flag the hook
  applies Kedro's own rule (the runner's missing-output filter) to the same catalog first and counts
  only the nodes, and runs, that will actually run. A run is done when every one of its nodes in that
  pipeline has finished, failed when one of them raised. Kedro's SequentialRunner runs the nodes
  generation by generation (every run's initialise_parameters, then every run's train_network, ...),
  so its runs all end near the end; the count of nodes done moves all along. The DaskRunner runs each
  run's chain in one task, so its runs end one by one.
* **Events.** Node hooks and the training loop (``train_network`` calls :func:`publish_step` at every
  progress checkpoint) :func:`publish` small dict events. In the process that runs the session
  (SequentialRunner, ThreadRunner, a Dask ``LocalCluster(processes=False)``) they go straight to the
  active tracker. In a Dask worker process they are sent to the driver with
  ``distributed.get_worker().log_event`` (non-blocking, batched with the worker's other messages to
  the scheduler); the DaskRunner subscribes to the topic for the duration of the run
  (:func:`forward_progress`), so this works on a LocalCluster and on remote clusters alike. Anywhere
  else (no session, Kedro's ParallelRunner subprocesses) events are dropped; publishing never raises.
* **Time left.** Every unfinished node of a run counts the mean duration of the finished nodes of its
  kind (``train_network``, ``analyse_hessian``, ...; a running node counts what it has left of that
  mean, at least 0), and that work is shared by ``min(slots, runs left)``: ``slots`` is the parallelism
  (the Dask cluster's worker threads, else the most nodes seen running at once, at least 1). Unknown
  until a node has finished; "at least" while some kind of node left has not finished once (the
  SequentialRunner times analyse_hessian only after every training). Runs of a sweep differ in cost
  (width, depth), so it is a rough guide.
* **Display.** When the console of Kedro's rich logging handler is an interactive terminal: a rich
  ``Live`` display on that same console (log lines scroll above it): a bar of the runs' nodes done
  with runs done / total and the time elapsed and left, and one line per run with a node running (that
  node, and its training step / total and loss while it trains). Otherwise (CI, Airflow, pipes, pytest, notebooks): plain INFO lines on the logger
  ``ntk_linearity.execution.progress``, one every ``interval`` seconds (from a background thread, so long nodes
  get lines too), and a last one when the pipeline ends. Both displays read the tracker when they draw;
  events only update it. The display stops on ``after_pipeline_run`` and ``on_pipeline_error``; Ctrl-C fires neither
  hook, so an ``atexit`` handler stops a live display still running.

Settings: ``$NTK_PROGRESS`` (``auto``, the default; ``rich``; ``log``; ``off``) and
``$NTK_PROGRESS_INTERVAL`` (seconds between log lines, default 30) override the hook's arguments.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node
    from rich.console import Console, RenderableType

ENV_MODE = "NTK_PROGRESS"
ENV_INTERVAL = "NTK_PROGRESS_INTERVAL"
MODES = ("auto", "rich", "log", "off")
DEFAULT_INTERVAL = 30.0  # seconds between two progress log lines
PROGRESS_TOPIC = "ntk-linearity-progress"  # distributed event topic of the workers' progress events
LOG_TOPIC = "ntk-linearity-logs"  # ... and of their log records, while a live display runs
LISTED_RUNS = 3  # runs in progress named in a log line; the others are counted
REFRESH_PER_SECOND = 2
BAR_WIDTH = 30

logger = logging.getLogger(__name__)


def run_namespace(node: Node) -> str | None:
    """``<sweep>.<run>`` for a node in a namespace of two or more levels (a run's chain), else None."""
    parts = (node.namespace or "").split(".")
    if len(parts) >= 2 and all(parts[:2]):  # noqa: PLR2004
        return ".".join(parts[:2])
    return None


# ---------------------------------------------------------------------------------------------
# Publishing events (any process)
# ---------------------------------------------------------------------------------------------

_active: _ActiveProgress | None = None  # the pipeline run being followed, in the session's process
_context = threading.local()  # run_id of the node running in this thread (for the Dask topic)
_PROCESS = uuid.uuid4().hex  # this process, as route_worker_logs tells the driver's from a worker's


def publish(event: dict[str, Any]) -> None:
    """Hand ``event`` (a dict of plain values) to the progress display; never raises, never blocks.

    In the session's process it goes to the active tracker; in a Dask worker to the driver (a worker
    event on :data:`PROGRESS_TOPIC`); elsewhere nowhere."""
    active = _active
    try:
        if active is not None:
            active.receive(event)
        elif "distributed" in sys.modules:  # a Dask worker process has imported it
            _to_dask_driver({**event, "run_id": getattr(_context, "run_id", None)})
    except Exception:  # noqa: BLE001 (progress must never stop a run)
        logger.debug("progress: event %s dropped", event, exc_info=True)


def publish_step(run: str, step: int, total: int, loss: float) -> None:
    """Training of ``run`` reached ``step`` of ``total`` with ``loss``."""
    publish({"event": "step", "run": run, "step": int(step), "total": int(total), "loss": float(loss)})


def _to_dask_driver(event: dict[str, Any]) -> None:
    from distributed import get_worker  # noqa: PLC0415

    try:
        worker = get_worker()
    except ValueError:  # not in a Dask task
        return
    worker.log_event(PROGRESS_TOPIC, event)


@contextmanager
def forward_progress(client: Any, run_id: str | None) -> Iterator[str | None]:
    """While the DaskRunner runs: pass the workers' progress events of session ``run_id`` to the active
    tracker and tell it the cluster's parallelism (its worker threads). With a live display, also
    re-emit the workers' log records here, through this process's logging, and yield this process's
    token for :func:`route_worker_logs` (worker processes that share the terminal would otherwise
    write across the display); else yield None. Does nothing without an active tracker."""
    active = _active
    if active is None:
        yield None
        return

    def on_progress(event: tuple[float, dict]) -> None:
        message = event[1]
        if isinstance(message, dict) and message.get("run_id") == run_id:
            active.receive(message)

    def on_log(event: tuple[float, dict]) -> None:
        message = event[1]
        if isinstance(message, dict) and message.pop("run_id", None) == run_id:
            record = logging.makeLogRecord(message)
            logging.getLogger(record.name).handle(record)

    topics = {PROGRESS_TOPIC: on_progress} | ({LOG_TOPIC: on_log} if active.live else {})
    try:
        active.tracker.set_parallelism(sum(client.nthreads().values()))
        for topic, handler in topics.items():
            client.subscribe_topic(topic, handler)
    except Exception:  # noqa: BLE001
        logger.warning("progress: cannot subscribe to the Dask workers' progress events", exc_info=True)
        yield None
        return
    try:
        yield _PROCESS if active.live else None
    finally:
        for topic in topics:
            try:
                client.unsubscribe_topic(topic)
            except Exception:  # noqa: BLE001
                logger.debug("progress: unsubscribing from %s failed", topic, exc_info=True)


class _ToDriver(logging.Handler):
    """In a Dask worker process: sends each log record to the driver as a worker event."""

    def __init__(self, worker: Any, run_id: str | None):
        super().__init__()
        self.worker, self.run_id = worker, run_id

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            self.worker.log_event(LOG_TOPIC, {
                "run_id": self.run_id, "name": record.name, "levelno": record.levelno,
                "levelname": record.levelname, "msg": message, "pathname": record.pathname,
                "filename": record.filename, "module": record.module, "lineno": record.lineno,
                "funcName": record.funcName, "created": record.created, "msecs": record.msecs})
        except Exception:  # noqa: BLE001 (a log line must never stop a run)
            pass


_local_handlers: list[logging.Handler] | None = None  # a worker's own root handlers while routed


def route_worker_logs(driver: str | None, run_id: str | None) -> None:
    """In a Dask task: with ``driver`` (the token :func:`forward_progress` yielded) and outside the
    driver's process, replace this worker process's root log handlers by one that sends the records to
    the driver; with None, put the worker's own handlers back."""
    global _local_handlers  # noqa: PLW0603
    root = logging.getLogger()
    routed = [handler for handler in root.handlers if isinstance(handler, _ToDriver)]
    if driver is None or driver == _PROCESS:
        if _local_handlers is not None:
            for handler in routed:
                root.removeHandler(handler)
            for handler in _local_handlers:
                root.addHandler(handler)
            _local_handlers = None
        return
    if routed and routed[0].run_id == run_id:
        return
    from distributed import get_worker  # noqa: PLC0415

    worker = get_worker()
    if _local_handlers is None:
        _local_handlers = [handler for handler in root.handlers if not isinstance(handler, _ToDriver)]
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    root.addHandler(_ToDriver(worker, run_id))


# ---------------------------------------------------------------------------------------------
# What is counted
# ---------------------------------------------------------------------------------------------


def runs_of(nodes: Iterable[Node]) -> dict[str, frozenset[str]]:
    """``{run namespace: names of its nodes}`` for the nodes that belong to a run."""
    runs: dict[str, set[str]] = {}
    for node in nodes:
        namespace = run_namespace(node)
        if namespace is not None:
            runs.setdefault(namespace, set()).add(node.name)
    return {name: frozenset(nodes) for name, nodes in runs.items()}


def nodes_to_run(pipeline: Pipeline, catalog: CatalogProtocol, only_missing_outputs: bool) -> list[Node]:
    """The nodes the runner will run: with ``only_missing_outputs``, those Kedro's own missing-output
    rule keeps (``AbstractRunner.run`` applies it after ``before_pipeline_run``)."""
    if not only_missing_outputs:
        return list(pipeline.nodes)
    try:
        from kedro.runner.runner import _build_node_children_map, _determine_nodes_to_run  # noqa: PLC0415
    except ImportError:
        logger.warning("progress: Kedro's missing-output filter is not importable; counting every run")
        return list(pipeline.nodes)
    keep = _determine_nodes_to_run(list(reversed(pipeline.nodes)), catalog,
                                   _build_node_children_map(pipeline), logger)
    return [node for node in pipeline.nodes if node in keep]


# ---------------------------------------------------------------------------------------------
# The tracker: counts, steps and time left
# ---------------------------------------------------------------------------------------------


def node_kind(node_name: str) -> str:
    """A node's name without its namespace (``train_network``): nodes of one kind take similar times."""
    return node_name.rpartition(".")[2]


@dataclass(frozen=True)
class RunProgress:
    """A run with a node running: its namespace, that node (short name) and, while it publishes
    training steps, the last step / total and loss."""

    name: str
    node: str
    step: int | None = None
    total: int | None = None
    loss: float | None = None


@dataclass(frozen=True)
class ProgressState:
    """What a display shows at one moment."""

    total: int  # runs
    done: int
    failed: int
    nodes_total: int  # nodes of the runs
    nodes_done: int
    running: tuple[RunProgress, ...]
    elapsed: float  # seconds since the pipeline started
    time_left: float | None  # seconds; None until a node of a run has finished
    at_least: bool = False  # time_left leaves out nodes of a kind none of which has finished yet


def estimate_time_left(remaining: Iterable[Iterable[tuple[str, float | None]]], means: Mapping[str, float],
                       slots: int) -> tuple[float | None, bool]:
    """Seconds left and whether that is only a lower bound.

    ``remaining`` holds, for every run not ended, its unfinished nodes as ``(kind, seconds it has been
    running or None)``; ``means`` the mean duration of the finished nodes of each kind. The work left is
    ``mean[kind] - running`` (at least 0) summed over those nodes, and is shared by
    ``min(slots, runs left)`` (a run's nodes run one after the other). Nodes of a kind without a mean
    add nothing and make the result a lower bound; without a mean, or a lower bound of 0, the time
    left is unknown."""
    if not means:
        return None, False
    work, runs_left, partial = 0.0, 0, False
    for nodes in remaining:
        nodes = list(nodes)
        runs_left += bool(nodes)
        for kind, running in nodes:
            if kind not in means:
                partial = True
            else:
                work += max(means[kind] - (running or 0.0), 0.0)
    if runs_left == 0:
        return 0.0, False
    if partial and work == 0:
        return None, False
    return work / min(max(slots, 1), runs_left), partial


@dataclass
class _Run:
    nodes: frozenset[str]
    finished: set[str] = field(default_factory=set)
    node: str | None = None  # the node running now
    since: float = 0.0  # when it started
    failed: bool = False
    step: int | None = None
    total: int | None = None
    loss: float | None = None

    @property
    def done(self) -> bool:
        return self.nodes <= self.finished

    @property
    def ended(self) -> bool:
        return self.failed or self.done


class RunTracker:
    """Counts the runs of one pipeline run, and their nodes, from node and step events (thread-safe).

    Events are dicts with ``event`` (``node_started``, ``node_finished``, ``node_failed``, ``step``),
    ``run`` (namespace) and ``node`` (full node name) or ``step``, ``total`` and ``loss``. Events of
    runs not counted at the start are ignored. Times come from ``clock`` when an event is handled.

    A run is done when all its nodes have finished, failed when one raised. Kedro's SequentialRunner
    runs the nodes generation by generation (every run's initialise_parameters, then every run's
    train_network, ...), so its runs all end near the end of the pipeline; the nodes done and the time
    left (:func:`estimate_time_left`, from the mean duration of each kind of node) track it throughout.
    The DaskRunner runs each run's chain in one task, so its runs end one by one."""

    def __init__(self, runs: Mapping[str, Iterable[str]], clock: Callable[[], float] = time.monotonic,
                 parallelism: int = 1):
        self._clock = clock
        self._lock = threading.Lock()
        self._runs = {name: _Run(frozenset(nodes)) for name, nodes in runs.items()}
        self._durations: dict[str, list[float]] = {}
        self._started = clock()
        self._parallelism = parallelism
        self._most_running = 0

    def set_parallelism(self, slots: int) -> None:
        """How many nodes can run at once (the Dask cluster's worker threads)."""
        with self._lock:
            self._parallelism = slots

    def handle(self, event: Mapping[str, Any]) -> None:
        """Update the counts with one event."""
        with self._lock:
            run = self._runs.get(event.get("run", ""))
            if run is None or run.ended:
                return
            now, kind = self._clock(), event.get("event")
            if kind == "node_started":
                run.node, run.since = event["node"], now
                run.step = run.total = run.loss = None
                self._most_running = max(self._most_running,
                                         sum(r.node is not None for r in self._runs.values()))
            elif kind == "node_finished" and event["node"] in run.nodes:
                run.finished.add(event["node"])
                if run.node == event["node"]:
                    self._durations.setdefault(node_kind(run.node), []).append(now - run.since)
                    run.node = None
            elif kind == "node_failed":
                run.failed, run.node = True, None
            elif kind == "step" and run.node is not None:
                run.step, run.total, run.loss = event["step"], event["total"], event["loss"]

    def finish(self) -> None:
        """The pipeline succeeded: every run not failed is done (late worker events included)."""
        with self._lock:
            for run in self._runs.values():
                if not run.failed:
                    run.finished |= run.nodes
                    run.node = None

    def snapshot(self) -> ProgressState:
        """The counts now."""
        with self._lock:
            now, runs = self._clock(), self._runs.values()
            means = {kind: sum(times) / len(times) for kind, times in self._durations.items()}
            remaining = [[(node_kind(name), now - run.since if name == run.node else None)
                          for name in sorted(run.nodes - run.finished)]
                         for run in runs if not run.ended]
            time_left, at_least = estimate_time_left(remaining, means,
                                                     max(self._parallelism, self._most_running))
            return ProgressState(
                total=len(self._runs),
                done=sum(run.done for run in runs),
                failed=sum(run.failed for run in runs),
                nodes_total=sum(len(run.nodes) for run in runs),
                nodes_done=sum(len(run.finished) for run in runs),
                running=tuple(RunProgress(name, node_kind(run.node), run.step, run.total, run.loss)
                              for name, run in self._runs.items() if run.node is not None),
                elapsed=now - self._started,
                time_left=time_left,
                at_least=at_least,
            )


# ---------------------------------------------------------------------------------------------
# Displays
# ---------------------------------------------------------------------------------------------


def format_duration(seconds: float) -> str:
    """``42 s``, ``4 min 05 s`` (under 10 min), ``12 min``, ``1 h 05 min`` (rounded to the unit shown)."""
    seconds = round(max(seconds, 0.0))
    if seconds < 60:  # noqa: PLR2004
        return f"{seconds} s"
    if seconds < 600:  # noqa: PLR2004
        return f"{seconds // 60} min {seconds % 60:02d} s"
    minutes = round(seconds / 60)
    if minutes < 60:  # noqa: PLR2004
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def describe_run(run: RunProgress) -> str:
    """``train_network step 300/10000, loss 1.20e-03`` while training, else the node running."""
    if run.step is None:
        return run.node
    return f"{run.node} step {run.step}/{run.total}, loss {run.loss:.2e}"


def describe_counts(state: ProgressState) -> str:
    """``runs 12/105 done, 1 failed (50/420 nodes)``."""
    failed = f", {state.failed} failed" if state.failed else ""
    return f"runs {state.done}/{state.total} done{failed} ({state.nodes_done}/{state.nodes_total} nodes)"


def describe_time_left(state: ProgressState) -> str:
    """``about 4 min left``, ``at least 4 min left``, or unknown."""
    if state.done + state.failed == state.total:
        return "all runs ended"
    if state.time_left is None:
        return "time left unknown"
    return f"{'at least' if state.at_least else 'about'} {format_duration(state.time_left)} left"


def format_line(state: ProgressState) -> str:
    """One log line: ``runs 12/105 done (50/420 nodes) after 3 min 10 s; running <run> (train_network
    step 300/10000, loss 1.20e-03); about 4 min left``."""
    parts = [f"{describe_counts(state)} after {format_duration(state.elapsed)}"]
    if state.running:
        listed = ", ".join(f"{run.name} ({describe_run(run)})" for run in state.running[:LISTED_RUNS])
        more = len(state.running) - LISTED_RUNS
        parts.append(f"running {listed}" + (f" and {more} more" if more > 0 else ""))
    parts.append(describe_time_left(state))
    return "; ".join(parts)


def format_final_line(state: ProgressState, succeeded: bool) -> str:
    """The last line of a pipeline run."""
    if succeeded:
        return f"{describe_counts(state)} in {format_duration(state.elapsed)}"
    return f"stopped after {format_duration(state.elapsed)}: {describe_counts(state)}"


class LogDisplay:
    """Progress as INFO log lines: one every ``interval`` seconds from a background thread (at most one
    per ``interval`` of ``clock``) until every run has ended, and a last one when the pipeline ends."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic,
                 log: logging.Logger = logger):
        self._interval = interval
        self._clock = clock
        self._log = log
        self._last: float | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, get_state: Callable[[], ProgressState]) -> None:
        state = get_state()
        self._log.info("progress: %d run%s (%d nodes) to run; a progress line every %s", state.total,
                       "" if state.total == 1 else "s", state.nodes_total, format_duration(self._interval))
        self._last = self._clock()
        self._thread = threading.Thread(target=self._heartbeat, args=(get_state,), daemon=True,
                                        name="ntk-linearity-progress")
        self._thread.start()

    def on_event(self) -> None:
        """Nothing to do: lines come from the background thread."""

    def update(self, get_state: Callable[[], ProgressState]) -> None:
        """Log a line unless one was logged less than ``interval`` seconds ago."""
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return
        self._last = now
        state = get_state()
        self._log.info("progress: %s", format_line(state))
        if state.done + state.failed == state.total:
            self._stopped.set()  # nothing more to report until the last line

    def close(self, state: ProgressState, succeeded: bool) -> None:
        self._stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._log.info("progress: %s", format_final_line(state, succeeded))

    def _heartbeat(self, get_state: Callable[[], ProgressState]) -> None:
        while not self._stopped.wait(self._interval):
            self.update(get_state)


def render(state: ProgressState) -> RenderableType:
    """The live display: a bar of the runs' nodes done, with runs done / total and the time elapsed and
    left, then one line per run with a node running (its training step bar and loss while it trains)."""
    from rich.progress_bar import ProgressBar  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table.grid(padding=(0, 1))
    for _ in range(4):
        table.add_column(no_wrap=True)
    table.add_row("[bold]Sweep runs[/]",
                  ProgressBar(total=max(state.nodes_total, 1), completed=state.nodes_done, width=BAR_WIDTH),
                  describe_counts(state), f"{format_duration(state.elapsed)} elapsed, {describe_time_left(state)}")
    for run in state.running:
        if run.step is None:
            table.add_row(f"  {run.name}", ProgressBar(total=None, width=BAR_WIDTH), run.node, "")
        else:
            table.add_row(f"  {run.name}", ProgressBar(total=run.total, completed=run.step, width=BAR_WIDTH),
                          f"{run.node} step {run.step}/{run.total}", f"loss {run.loss:.2e}")
    return table


class RichDisplay:
    """A rich ``Live`` display of :func:`render` on ``console`` (the logging handler's), refreshed
    from ``get_state`` a few times a second. It appears with the first event of a run (a Dask
    cluster's start-up lines, and the nodes before the runs, print before it)."""

    def __init__(self, console: Console):
        self._console = console
        self._get_state: Callable[[], ProgressState] | None = None
        self._live = None

    def start(self, get_state: Callable[[], ProgressState]) -> None:
        self._get_state = get_state

    def on_event(self) -> None:
        """Show the display if it is not shown yet."""
        if self._live is not None or self._get_state is None:
            return
        from rich.live import Live  # noqa: PLC0415

        get_state = self._get_state
        self._live = Live(get_renderable=lambda: render(get_state()), console=self._console,
                          refresh_per_second=REFRESH_PER_SECOND, transient=False,
                          redirect_stdout=True, redirect_stderr=True)
        self._live.start()
        atexit.register(self._stop)  # Ctrl-C fires no pipeline hook

    def close(self, state: ProgressState, succeeded: bool) -> None:  # noqa: ARG002
        self._get_state = None
        self._stop()
        atexit.unregister(self._stop)

    def _stop(self) -> None:
        if self._live is not None:
            self._live.stop()  # draws the last state
            self._live = None


def logging_console() -> Console:
    """The console of the rich handler on the root logger (Kedro's default logging), else rich's."""
    import rich  # noqa: PLC0415
    from rich.logging import RichHandler  # noqa: PLC0415

    for handler in logging.getLogger().handlers:
        if isinstance(handler, RichHandler):
            return handler.console
    return rich.get_console()


def is_interactive(console: Console) -> bool:
    """A terminal that can redraw a live display (not a pipe, a dumb terminal or a notebook)."""
    return console.is_terminal and not console.is_dumb_terminal and not console.is_jupyter


# ---------------------------------------------------------------------------------------------
# The Kedro hooks
# ---------------------------------------------------------------------------------------------


def _close(succeeded: bool) -> None:
    global _active  # noqa: PLW0603
    active, _active = _active, None
    if active is not None:
        active.close(succeeded)


def _mode(default: str) -> str:
    mode = os.environ.get(ENV_MODE, default).strip().lower()
    if mode not in MODES:
        raise ValueError(f"${ENV_MODE} must be one of {', '.join(MODES)}; got {mode!r}")
    return mode


def _interval(default: float) -> float:
    raw = os.environ.get(ENV_INTERVAL)
    try:
        value = float(raw) if raw is not None else default
    except ValueError:
        value = math.nan
    if not value > 0:
        raise ValueError(f"${ENV_INTERVAL} must be a positive number of seconds; got {raw!r}")
    return value


class _ActiveProgress:
    """The tracker and display of the pipeline run being followed; events after ``close`` are dropped."""

    def __init__(self, tracker: RunTracker, display: LogDisplay | RichDisplay):
        self.tracker = tracker
        self.live = isinstance(display, RichDisplay)
        self._display = display
        self._lock = threading.Lock()
        self._open = True

    def receive(self, event: Mapping[str, Any]) -> None:
        with self._lock:
            if self._open:
                self.tracker.handle(event)
                self._display.on_event()

    def close(self, succeeded: bool) -> None:
        with self._lock:
            if not self._open:
                return
            self._open = False
            if succeeded:
                self.tracker.finish()
            self._display.close(self.tracker.snapshot(), succeeded)


class ProgressHooks:
    """Shows the progress of the sweep runs of every pipeline run (module docstring).

    Args:
        mode: ``auto`` (a live display on a terminal, log lines otherwise), ``rich``, ``log`` or ``off``;
            ``$NTK_PROGRESS`` overrides it.
        interval: seconds between two progress log lines; ``$NTK_PROGRESS_INTERVAL`` overrides it.
    """

    def __init__(self, mode: str = "auto", interval: float = DEFAULT_INTERVAL):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds; got {interval!r}")
        self._mode = mode
        self._interval = interval

    # -- the session's process: one pipeline run --------------------------------------------------

    @hook_impl(trylast=True)  # after the hooks that change the catalog (ProjectHooks marks results missing)
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline,
                            catalog: CatalogProtocol) -> None:
        """Count the runs that will run and start the display (none without runs, or when off)."""
        global _active  # noqa: PLW0603
        _close(succeeded=False)  # a display left over by an interrupted run (Ctrl-C fires no hook)
        mode = _mode(self._mode)
        if mode == "off":
            return
        runs = runs_of(nodes_to_run(pipeline, catalog, bool(run_params.get("only_missing_outputs"))))
        if not runs:
            return
        interval, console = _interval(self._interval), logging_console()
        if mode == "rich" or (mode == "auto" and is_interactive(console)):
            display: LogDisplay | RichDisplay = RichDisplay(console)
        else:
            display = LogDisplay(interval)
        tracker = RunTracker(runs)
        display.start(tracker.snapshot)
        _active = _ActiveProgress(tracker, display)

    @hook_impl(tryfirst=True)
    def after_pipeline_run(self) -> None:
        """Every run is done: show the last state and stop the display."""
        _close(succeeded=True)

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self) -> None:
        """Show where the sweep stopped and stop the display."""
        _close(succeeded=False)

    # -- wherever nodes run (the session's process, or a Dask worker) ----------------------------

    @hook_impl
    def before_node_run(self, node: Node, run_id: str) -> None:
        """A run's node starts."""
        _context.run_id = run_id
        self._publish_node("node_started", node)

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        """A run's node finished."""
        self._publish_node("node_finished", node)

    @hook_impl
    def on_node_error(self, node: Node) -> None:
        """A run's node raised."""
        self._publish_node("node_failed", node)

    @staticmethod
    def _publish_node(event: str, node: Node) -> None:
        namespace = run_namespace(node)
        if namespace is not None:
            publish({"event": event, "run": namespace, "node": node.name})
