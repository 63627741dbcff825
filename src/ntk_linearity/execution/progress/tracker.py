"""The tracker: which runs are counted, their nodes done, the runs in progress and the time left.

* **What is counted.** A run is a namespace ``sweeps.<sweep>.<group>.<run>``, named ``<sweep>.<run>``
  (:func:`run_namespace`).
  ``before_pipeline_run`` counts the runs of the pipeline being run and their nodes. Kedro applies
  ``--only-missing-outputs`` later, inside the runner, so with that flag the hook applies Kedro's own
  rule (the runner's missing-output filter) to the same catalog first and counts only the nodes, and
  runs, that will actually run (:func:`nodes_to_run`). A run is done when every one of its nodes in
  that pipeline has finished, failed when one of them raised. Kedro's SequentialRunner runs the nodes
  generation by generation (every run's initialise_parameters, then every run's train_network, ...),
  so its runs all end near the end; the count of nodes done moves all along. The DaskRunner runs each
  run's chain in one task, so its runs end one by one.
* **Time left.** Every unfinished node of a run counts the mean duration of the finished nodes of its
  kind (``train_network``, ``analyse_hessian``, ...; a running node counts what it has left of that
  mean, at least 0), and that work is shared by ``min(slots, runs left)``: ``slots`` is the parallelism
  (the Dask cluster's worker threads, else the most nodes seen running at once, at least 1). Unknown
  until a node has finished; "at least" while some kind of node left has not finished once (the
  SequentialRunner times analyse_hessian only after every training). Runs of a sweep differ in cost
  (width, depth), so it is a rough guide (:func:`estimate_time_left`).

:class:`RunTracker` takes the events (:mod:`ntk_linearity.execution.progress.events`) and gives the
displays a :class:`ProgressState` when they draw.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ntk_linearity.experiment.runs import SWEEPS_NAMESPACE

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

logger = logging.getLogger(__package__)


# ---------------------------------------------------------------------------------------------
# What is counted
# ---------------------------------------------------------------------------------------------


def run_namespace(node: Node) -> str | None:
    """``<sweep>.<run>``, the run's identity, for a node of a run's chain (namespace
    ``sweeps.<sweep>.<group>.<run>``, :attr:`~ntk_linearity.experiment.runs.RunSpec.node_namespace`), else None."""
    outer, *parts = (node.namespace or "").split(".")
    if outer == SWEEPS_NAMESPACE and len(parts) >= 3 and all(parts[:3]):  # noqa: PLR2004
        return f"{parts[0]}.{parts[2]}"
    return None


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
