"""``DaskRunner``: runs the pipelines on a dask.distributed cluster, a task per sweep run.

Usage::

    kedro run --runner ntk_linearity.execution.runners.DaskRunner                 # LocalCluster, one worker per core
    NTK_DASK_SCHEDULER=tcp://host:8786 kedro run --runner ntk_linearity.execution.runners.DaskRunner
    kedro run --env slurm --runner ntk_linearity.execution.runners.DaskRunner     # conf/slurm/dask.yml

How it works (details and cluster recipes in ``docs/dask.md``):

* **Tasks.** Nodes are grouped (:mod:`~ntk_linearity.execution.runners.grouping`): a run's nodes
  (``<sweep>.<group>.<run>``) run one after the other in one Dask task, every other node is a task of its own.
  The driver submits a group as a Dask future as soon as the futures of the groups it depends on have
  finished; the scheduler places it on a free worker (handing it the upstream futures as arguments
  would tie it to the worker that ran them).
* **Catalog and nodes.** The session's catalog (with its save version, load versions and parameters) is
  pickled with cloudpickle once, sent with every task and unpickled afresh there; nodes load their
  inputs from and save their outputs to it exactly as under the SequentialRunner. A group's nodes travel
  pickled too, so that the worker imports their modules inside the task, where an import error fails
  the task by name (:mod:`~ntk_linearity.execution.runners.dask_worker`). Every dataset that crosses a group
  boundary must therefore be persisted (a catalog entry that is not a MemoryDataset); the runner checks
  this before it submits anything. Free pipeline outputs that are MemoryDatasets are sent back and saved
  in the driver's catalog.
* **Cluster.** A scheduler address, else a cluster that ``conf/<env>/dask.yml`` describes, started and
  closed by the runner (:mod:`~ntk_linearity.execution.runners.dask_cluster`).
* **Workers.** Each worker process configures the Kedro project, its logging, the run's config loader,
  the driver's JAX flags and the project's and plugins' hooks
  (:mod:`~ntk_linearity.execution.runners.dask_worker`): node and dataset hooks run on the workers,
  pipeline hooks in the driver (the session).
* **Progress.** The workers send their runs' progress (nodes, training steps) to the driver as
  distributed events; ``ntk_linearity.execution.progress`` shows it there (``README.md``, "Progress"). While a
  live progress display runs on the driver's terminal, worker processes send their log records to the
  driver too, which prints them above the display.
* **Failures.** The first group that raises is logged with its namespace, node and worker; a distributed
  ``Event`` then tells the running tasks to stop before their next node (running nodes finish and
  persist their outputs), nothing new is submitted, the runner waits for the tasks in flight,
  logs Kedro's resume hint and re-raises the original exception, as the SequentialRunner does.
  KeyboardInterrupt cancels every future and closes the cluster the runner started.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kedro.runner import AbstractRunner

from ntk_linearity.execution.progress import forward_progress
from ntk_linearity.execution.runners.dask_cluster import (
    ENV_SCHEDULER,
    DaskRunnerError,
    load_dask_config,
    make_cluster,
    scale_cluster,
)
from ntk_linearity.execution.runners.dask_worker import JAX_FLAGS, WorkerContext, run_group
from ntk_linearity.execution.runners.grouping import TaskGroup, group_nodes

if TYPE_CHECKING:
    from collections.abc import Iterator

    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from pluggy import PluginManager

# Name of the distributed Event set when a task fails: f"{STOP_EVENT_PREFIX}{run_id}".
STOP_EVENT_PREFIX = "ntk-dask-runner-stop-"

logger = logging.getLogger(__name__)


def _is_ephemeral(catalog: CatalogProtocol, name: str) -> bool:
    if name not in catalog:
        return True
    return bool(getattr(catalog.get(name), "_EPHEMERAL", False))


def ephemeral_boundary_datasets(groups: Iterable[TaskGroup], catalog: CatalogProtocol) -> dict[str, tuple[str, str]]:
    """Non-persisted datasets that one group produces and another consumes: ``{dataset: (from, to)}``."""
    producer = {out: group.name for group in groups for node in group.nodes for out in node.outputs}
    crossing = {}
    for group in groups:
        for node in group.nodes:
            for name in node.inputs:
                source = producer.get(name)
                if source is not None and source != group.name and _is_ephemeral(catalog, name):
                    crossing[name] = (source, group.name)
    return crossing


class DaskRunner(AbstractRunner):
    """Runs each ``<sweep>.<group>.<run>`` namespace (and every other node) as one dask.distributed task.

    Args:
        is_async: load and save a node's datasets with threads (as for the other Kedro runners).
        scheduler_address: connect to this scheduler; overrides ``$NTK_DASK_SCHEDULER`` and dask.yml.
        cluster_kwargs: keyword arguments for the LocalCluster, over dask.yml's ``local_cluster:``.
        dask_config: used instead of ``conf/<env>/dask.yml`` (tests, notebooks).

    From the command line: ``kedro run --runner ntk_linearity.execution.runners.DaskRunner
    --runner-params scheduler_address=tcp://host:8786``.
    """

    def __init__(self, is_async: bool = False, scheduler_address: str | None = None,
                 cluster_kwargs: Mapping[str, Any] | None = None,
                 dask_config: Mapping[str, Any] | None = None):
        super().__init__(is_async=is_async)
        self._scheduler_address = scheduler_address
        self._cluster_kwargs = dict(cluster_kwargs or {})
        self._dask_config = dict(dask_config) if dask_config is not None else None

    def _get_executor(self, max_workers: int) -> None:  # the Dask client replaces the executor
        return None

    # -- configuration --------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        return dict(self._dask_config) if self._dask_config is not None else load_dask_config()

    @staticmethod
    def _log_level(config: Mapping[str, Any]) -> str:
        return str(config.get("distributed_log_level", "WARNING")).upper()

    def _address(self, config: Mapping[str, Any]) -> str | None:
        return self._scheduler_address or os.environ.get(ENV_SCHEDULER) or config.get("scheduler_address")

    @contextmanager
    def _client(self, config: Mapping[str, Any]) -> Iterator[Any]:
        """A Client on the configured scheduler, or on a cluster started (and closed) here."""
        from distributed import Client  # noqa: PLC0415

        # distributed logs every connection at INFO through Kedro's root handler; keep to warnings.
        logging.getLogger("distributed").setLevel(self._log_level(config))
        address = self._address(config)
        if address:
            self._logger.info("DaskRunner: connecting to the Dask scheduler at %s", address)
            with Client(address) as client:
                self._log_cluster(client)
                yield client
            return
        cluster = make_cluster(config, self._cluster_kwargs)
        try:
            if config.get("cluster"):
                scale_cluster(cluster, config["cluster"])
            with Client(cluster) as client:
                self._log_cluster(client)
                yield client
        finally:
            cluster.close()

    def _log_cluster(self, client: Any) -> None:
        workers = client.scheduler_info().get("workers", {})
        self._logger.info("DaskRunner: scheduler %s, %d worker(s) now; dashboard: %s",
                          client.scheduler.address, len(workers),
                          client.dashboard_link if _has_dashboard(client) else "not running")

    # -- the run ------------------------------------------------------------------------------

    def _worker_context(self, run_id: str | None, stop_event: str, return_outputs: frozenset[str],
                        log_level: str, log_driver: str | None) -> WorkerContext:
        from kedro.framework import project  # noqa: PLC0415

        from ntk_linearity.experiment.config import active_config_loader  # noqa: PLC0415

        loader = active_config_loader()
        loader_spec = None
        if loader is not None and getattr(loader, "conf_source", None):
            loader_spec = {"conf_source": str(loader.conf_source), "env": loader.env,
                           "runtime_params": dict(getattr(loader, "runtime_params", None) or {})}
        jax_flags = {}
        try:
            import jax  # noqa: PLC0415

            jax_flags = {name: getattr(jax.config, name) for name in JAX_FLAGS}
        except ImportError:  # pragma: no cover
            pass
        logging_config = dict(project.LOGGING) if project.LOGGING else None
        return WorkerContext(project.PACKAGE_NAME, logging_config, loader_spec, jax_flags, run_id,
                             self._is_async, stop_event, return_outputs, log_level, log_driver)


    def _run(self, pipeline: Pipeline, catalog: CatalogProtocol,
             hook_manager: PluginManager | None = None, run_id: str | None = None) -> None:
        groups = group_nodes(pipeline)
        if not groups:
            return
        crossing = ephemeral_boundary_datasets(groups, catalog)
        if crossing:
            listed = ", ".join(f"'{name}' ({src} -> {dst})" for name, (src, dst) in sorted(crossing.items()))
            raise DaskRunnerError(
                f"DaskRunner: datasets passed between Dask tasks must be persisted, but these are "
                f"MemoryDatasets: {listed}. Add catalog entries for them (or run with the SequentialRunner).")
        return_outputs = frozenset(name for name in pipeline.outputs() if _is_ephemeral(catalog, name))
        blobs = _pickled(groups, catalog)

        config = self._config()
        with self._client(config) as client, forward_progress(client, run_id) as log_driver:
            ctx_args = (run_id, return_outputs, self._log_level(config), log_driver)
            self._run_on(client, pipeline, groups, catalog, blobs, ctx_args)

    def _run_on(self, client: Any, pipeline: Pipeline, groups: list[TaskGroup], catalog: CatalogProtocol,
                blobs: tuple[bytes, dict[str, bytes]], ctx_args: tuple) -> None:
        """Submit each group as a Dask future once the futures of its upstream groups have finished.

        The driver keeps the dependency graph rather than handing the upstream futures to Dask as task
        arguments: a Dask task runs where its arguments' data live, so every run would queue on the
        worker that generated the data. The catalog travels inside every task for the same reason (a
        scattered copy would tie the tasks to the workers that hold it, and workers that join later, as
        SLURM jobs do, would get nothing). ``blobs`` are the pickled catalog and each group's pickled
        nodes (:func:`_pickled`).
        """
        from distributed import Event  # noqa: PLC0415

        run_id, return_outputs, log_level, log_driver = ctx_args
        stop_name = f"{STOP_EVENT_PREFIX}{run_id or uuid.uuid4().hex}"
        stop = Event(stop_name, client=client)
        stop.clear()
        ctx = self._worker_context(run_id, stop_name, return_outputs, log_level, log_driver)
        token = uuid.uuid4().hex[:8]
        catalog_blob, node_blobs = blobs
        graph = _TaskGraph(groups, lambda group: client.submit(
            run_group, group.name, node_blobs[group.name], catalog_blob, ctx, key=f"{group.name}-{token}",
            pure=False))
        self._logger.info("DaskRunner: %d nodes in %d Dask tasks", len(pipeline.nodes), len(groups))
        try:
            self._follow(graph, catalog, stop, len(pipeline.nodes))
        except BaseException:  # KeyboardInterrupt (Ctrl-C), or anything else in the driver
            self._logger.warning("DaskRunner: interrupted; cancelling %d running Dask task(s)",
                                 len(graph.running))
            _quietly(stop.set)
            _quietly(lambda: client.cancel(graph.futures, force=True))
            raise
        self._end(graph, pipeline, catalog)

    def _follow(self, graph: _TaskGraph, catalog: CatalogProtocol, stop: Any, n_nodes: int) -> None:
        """Wait for the tasks as they end: save the memory outputs they return, submit the groups they
        unblock (until a task fails), and on the first failure tell the running tasks to stop."""
        from distributed import as_completed  # noqa: PLC0415

        completed = as_completed(graph.submit_ready())
        for future in completed:
            name = graph.running.pop(future.key)
            if future.status == "finished":
                result = future.result()
                for out, data in result["outputs"].items():
                    catalog.save(out, data)
                if graph.record_result(name, result):
                    self._logger.info("Completed task %s (%d nodes) on %s in %.1f s; %d of %d nodes done",
                                      name, len(result["done"]), result["worker"], result["seconds"],
                                      len(graph.done_nodes), n_nodes)
                    if graph.failure is None:
                        for new in graph.submit_ready():
                            completed.add(new)
                continue
            exc = future.exception() if future.status == "error" else None
            if exc is None:  # cancelled from outside (the dashboard, another client)
                graph.record_cancelled(name)
                continue
            self._logger.error("Task %s failed: %s: %s", name, type(exc).__name__, exc)
            if graph.record_error(name, exc):
                stop.set()  # running tasks stop before their next node

    def _end(self, graph: _TaskGraph, pipeline: Pipeline, catalog: CatalogProtocol) -> None:
        """After the last task: on a failure, name the tasks that did not run, log Kedro's resume hint
        and re-raise the failure."""
        if graph.failure is not None:
            not_run = graph.not_run + list(graph.pending)
            self._logger.error("DaskRunner: task %s failed; %d task(s) did not run or stopped early: %s",
                               graph.failed_group, len(not_run), ", ".join(sorted(not_run)) or "none")
            done = [node for node in pipeline.nodes if node.name in graph.done_nodes]
            self._suggest_resume_scenario(pipeline, done, catalog)
            raise graph.failure
        if graph.pending:  # pragma: no cover (group_nodes returns an acyclic graph)
            raise DaskRunnerError(f"DaskRunner: these tasks could not be scheduled: {', '.join(graph.pending)}")


class _TaskGraph:
    """The driver's record of one run's task groups: which wait (``pending``, in topological order),
    run (``running``: future key -> group), finished, stopped early or never ran, and the first failure.
    ``submit`` turns a group into a Dask future."""

    def __init__(self, groups: Iterable[TaskGroup], submit: Callable[[TaskGroup], Any]):
        self.pending = {group.name: group for group in groups}
        self.finished: set[str] = set()
        self.running: dict[str, str] = {}
        self.futures: list[Any] = []
        self.done_nodes: set[str] = set()
        self.not_run: list[str] = []
        self.failure: BaseException | None = None
        self.failed_group: str | None = None
        self._submit = submit

    def submit_ready(self) -> list[Any]:
        """Submit the groups whose upstream groups have all finished; their futures."""
        ready = [group for group in self.pending.values() if group.upstream <= self.finished]
        submitted = []
        for group in ready:
            del self.pending[group.name]
            future = self._submit(group)
            self.running[future.key] = group.name
            submitted.append(future)
        self.futures.extend(submitted)
        return submitted

    def record_result(self, name: str, result: Mapping[str, Any]) -> bool:
        """A task returned (:func:`run_group`'s summary); whether it ran all its nodes (else it stopped)."""
        self.done_nodes.update(result["done"])
        if result["stopped"]:
            self.not_run.append(name)
            return False
        self.finished.add(name)
        return True

    def record_cancelled(self, name: str) -> None:
        """A task was cancelled from outside: it did not run, and the run fails (if nothing failed yet)."""
        self.not_run.append(name)
        self.failure = self.failure or DaskRunnerError(f"DaskRunner: task {name} was cancelled")
        self.failed_group = self.failed_group or name

    def record_error(self, name: str, exc: BaseException) -> bool:
        """A task raised ``exc``; whether it is the run's first failure."""
        self.done_nodes.update(getattr(exc, "dask_runner_done", []))
        if self.failure is not None:
            return False
        self.failure, self.failed_group = exc, name
        return True


def _pickled(groups: Iterable[TaskGroup], catalog: CatalogProtocol) -> tuple[bytes, dict[str, bytes]]:
    """The catalog and each group's nodes (by group name), pickled with cloudpickle for the workers.

    The nodes travel as bytes rather than as task arguments: Dask unpickles a task's arguments on the
    worker's event loop while another task may be running, so the modules of the nodes' functions would
    be imported there, concurrently with the running task's imports (``matplotlib.use`` in the reporting
    figures then meets a half-imported ``matplotlib.pyplot``), and a message that fails to unpickle
    takes the worker out of the cluster with the task still waiting for it. :func:`run_group` unpickles
    them inside the task."""
    import cloudpickle  # noqa: PLC0415

    try:
        catalog_blob = cloudpickle.dumps(catalog)
    except Exception as exc:
        raise DaskRunnerError(f"DaskRunner: the catalog cannot be pickled for the workers: {exc}") from exc
    node_blobs = {}
    for group in groups:
        try:
            node_blobs[group.name] = cloudpickle.dumps(group.nodes)
        except Exception as exc:
            raise DaskRunnerError(f"DaskRunner: the nodes of task {group.name} cannot be pickled for the "
                                  f"workers: {exc}") from exc
    return catalog_blob, node_blobs


def _has_dashboard(client: Any) -> bool:
    try:
        return "dashboard" in client.scheduler_info().get("services", {})
    except Exception:  # noqa: BLE001
        return False


def _quietly(action) -> None:
    try:
        action()
    except Exception:  # noqa: BLE001
        logger.debug("DaskRunner: clean-up step failed", exc_info=True)
