"""The project's runners (Kedro 1.x runner API): ``RunByRunRunner``, the default of ``kedro run``
(:mod:`ntk_linearity.cli`), and ``DaskRunner``, on a dask.distributed cluster.

``RunByRunRunner`` is Kedro's SequentialRunner in another order: Kedro runs the nodes of a pipeline
layer by layer (every run's initialisation, then every run's training, ...), so an interrupted sweep
would leave every run started and none committed. This runner takes the same task groups as the
DaskRunner (below) one after the other, so runs are finished -- committed by ``summarise_run`` --
one at a time and an interruption loses at most the run in progress.

``DaskRunner``:

Usage::

    kedro run --runner ntk_linearity.execution.runners.DaskRunner                 # LocalCluster, one worker per core
    NTK_DASK_SCHEDULER=tcp://host:8786 kedro run --runner ntk_linearity.execution.runners.DaskRunner
    kedro run --env slurm --runner ntk_linearity.execution.runners.DaskRunner     # conf/slurm/dask.yml

How it works (details and cluster recipes in ``docs/dask.md``):

* **Tasks.** Nodes are grouped: a node whose namespace has at least two levels (``<sweep>.<run>``)
  belongs to the task of that run (``width_sweep.linear_m30_s0``: init -> train -> hessian run one after
  the other in one Dask task); every other node (data generation, reporting, a gather node in the sweep
  namespace such as ``width_sweep.collect_runs``) is a task of its own. The driver submits a group as a
  Dask future as soon as the futures of the groups it depends on have finished; the scheduler places it
  on a free worker (handing it the upstream futures as arguments would tie it to the worker that ran
  them).
* **Catalog.** The session's catalog (with its save version, load versions and parameters) is pickled
  with cloudpickle once, sent with every task and unpickled afresh there; nodes load their inputs from
  and save their outputs to it exactly as under the SequentialRunner. Every dataset that crosses a group
  boundary must therefore be persisted (a catalog entry that is not a MemoryDataset); the runner checks
  this before it submits anything. Free pipeline outputs that are MemoryDatasets are sent back and saved
  in the driver's catalog.
* **Workers.** Each worker process configures the Kedro project (``configure_project``), Kedro's logging,
  the run's config loader (so ``run_config.active_parameters()`` sees ``--env``/``--params`` there too),
  the JAX flags of the driver (``jax_enable_x64`` for float64 sweeps, set by ``register_pipelines``,
  which never runs on a worker) and a hook manager with the project's and plugins' hooks: node and dataset
  hooks run on the workers, pipeline hooks in the driver (the session).
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

import graphlib
import importlib
import logging
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kedro.pipeline import Pipeline
from kedro.runner import AbstractRunner, SequentialRunner
from kedro.runner.task import Task

from ntk_linearity.execution.progress import forward_progress, route_worker_logs, run_namespace

if TYPE_CHECKING:
    from collections.abc import Iterator

    from kedro.io import CatalogProtocol
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

ENV_SCHEDULER = "NTK_DASK_SCHEDULER"
CONFIG_KEY = "dask"
CONFIG_PATTERNS = ["dask*", "dask*/**"]
# JAX flags copied from the driver to every worker: register_pipelines() switches on 64-bit JAX for
# float64 sweeps, and register_pipelines() never runs in a worker process.
JAX_FLAGS = ("jax_enable_x64", "jax_default_matmul_precision")
# Name of the distributed Event set when a task fails: f"{STOP_EVENT_PREFIX}{run_id}".
STOP_EVENT_PREFIX = "ntk-dask-runner-stop-"

logger = logging.getLogger(__name__)


class DaskRunnerError(RuntimeError):
    """A pipeline the DaskRunner cannot run as asked (not a failure inside a node)."""


# ---------------------------------------------------------------------------------------------
# Grouping nodes into Dask tasks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskGroup:
    """Nodes that run one after the other in one Dask task."""

    name: str  # the run namespace ``<sweep>.<run>``, or the node's name
    nodes: tuple[Node, ...]  # in topological order
    upstream: frozenset[str] = field(default_factory=frozenset)  # names of the groups it depends on


def group_name(node: Node) -> str:
    """``<sweep>.<run>`` for a node in a namespace of two or more levels, else the node's own name."""
    return run_namespace(node) or node.name


def group_nodes(pipeline: Pipeline) -> list[TaskGroup]:
    """The pipeline's nodes grouped into tasks (:func:`group_name`), groups in topological order.

    If the grouping makes a cycle (a node outside a run both consumes from and feeds the same run),
    every node becomes its own group, which is always acyclic.
    """
    groups = _group_by(pipeline, group_name)
    try:
        order = list(graphlib.TopologicalSorter({g: deps for g, (_, deps) in groups.items()}).static_order())
    except graphlib.CycleError as exc:
        logger.warning("Grouping nodes by run namespace makes a cycle (%s); one Dask task per node instead",
                       exc.args[1] if len(exc.args) > 1 else exc)
        groups = _group_by(pipeline, lambda node: node.name)
        order = list(graphlib.TopologicalSorter({g: deps for g, (_, deps) in groups.items()}).static_order())
    return [TaskGroup(name, tuple(groups[name][0]), frozenset(groups[name][1])) for name in order]


def _group_by(pipeline: Pipeline, key) -> dict[str, tuple[list[Node], set[str]]]:
    groups: dict[str, tuple[list[Node], set[str]]] = {}
    for node in pipeline.nodes:  # topological order, so each group's nodes are too
        groups.setdefault(key(node), ([], set()))[0].append(node)
    for node, parents in pipeline.node_dependencies.items():
        name = key(node)
        groups[name][1].update(key(parent) for parent in parents if key(parent) != name)
    return groups


class _RunOrderedPipeline(Pipeline):
    """A pipeline whose ``nodes`` come task group by task group (:func:`group_nodes`): still a
    topological order, with each run's nodes together."""

    @property
    def nodes(self) -> list[Node]:
        return [node for group in group_nodes(Pipeline(super().nodes)) for node in group.nodes]


class RunByRunRunner(SequentialRunner):
    """Kedro's ``SequentialRunner``, one run (task group) after the other (module docstring)."""

    def _run(self, pipeline: Pipeline, catalog: CatalogProtocol, hook_manager: PluginManager | None = None,
             run_id: str | None = None) -> None:
        super()._run(_RunOrderedPipeline(pipeline.nodes), catalog, hook_manager, run_id)


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


# ---------------------------------------------------------------------------------------------
# Cluster configuration: runner arguments, $NTK_DASK_SCHEDULER, conf/<env>/dask.yml
# ---------------------------------------------------------------------------------------------


def load_dask_config(config_loader: Any = None) -> dict[str, Any]:
    """``conf/<env>/dask.yml`` (merged over ``conf/base``) of the active run, or ``{}``."""
    from kedro.config import MissingConfigException  # noqa: PLC0415

    from ntk_linearity.experiment.config import active_config_loader  # noqa: PLC0415

    loader = config_loader if config_loader is not None else active_config_loader()
    if loader is None:
        return {}
    patterns = getattr(loader, "config_patterns", None)
    if isinstance(patterns, dict) and CONFIG_KEY not in patterns:
        patterns[CONFIG_KEY] = list(CONFIG_PATTERNS)
    try:
        return dict(loader[CONFIG_KEY] or {})
    except (KeyError, MissingConfigException):
        return {}


def import_object(path: str) -> Any:
    """``"package.module.Name"`` -> the object."""
    module, _, name = path.rpartition(".")
    if not module:
        raise DaskRunnerError(f"'{path}' is not a dotted path such as dask_jobqueue.SLURMCluster")
    return getattr(importlib.import_module(module), name)


def gpu_worker_specs(devices: Iterable[int | str], options: Mapping[str, Any] | None = None) -> dict[str, dict]:
    """SpecCluster worker specs: one Nanny per GPU, each seeing only its GPU (``CUDA_VISIBLE_DEVICES``)."""
    from distributed import Nanny  # noqa: PLC0415

    options = dict(options or {})
    env = dict(options.pop("env", None) or {})
    options.setdefault("nthreads", 1)
    return {
        f"gpu-{device}": {"cls": Nanny,
                          "options": {**options, "env": {**env, "CUDA_VISIBLE_DEVICES": str(device)}}}
        for device in devices
    }


def gpu_cluster_kwargs(local_cluster: Mapping[str, Any]) -> dict[str, Any]:
    """``SpecCluster`` arguments for ``local_cluster: {gpus: [...], ...}``: a scheduler here and one
    Nanny per GPU; the other keys (``nthreads``, ``memory_limit``, ``env``, ...) go to every Nanny."""
    from distributed import Scheduler  # noqa: PLC0415

    options = dict(local_cluster)
    gpus = options.pop("gpus")
    scheduler = {"dashboard_address": options.pop("dashboard_address", ":8787")}
    return {"scheduler": {"cls": Scheduler, "options": scheduler},
            "workers": gpu_worker_specs(gpus, options), "name": "ntk-linearity-gpus"}


def make_cluster(config: Mapping[str, Any], cluster_kwargs: Mapping[str, Any] | None = None):
    """The cluster ``dask.yml`` describes (not yet scaled, for ``cluster:``); see docs/dask.md.

    * ``cluster: {class: dask_jobqueue.SLURMCluster, kwargs: {...}, scale: {...} | adapt: {...}}``:
      any ``distributed`` cluster class (dask-jobqueue, dask-kubernetes, ...);
    * ``local_cluster: {gpus: [0, 1, ...], ...}``: one worker per GPU on this machine;
    * otherwise ``local_cluster:`` keyword arguments of ``LocalCluster`` (defaults: one worker process per
      core, one thread each, ``processes=True``), updated by the runner's ``cluster_kwargs``.
    """
    import dask  # noqa: PLC0415
    from distributed import LocalCluster, SpecCluster  # noqa: PLC0415

    # Workers start with spawn, never fork (JAX is multithreaded and warns on fork).
    dask.config.set({"distributed.worker.multiprocessing-method": "spawn"})
    if config.get("cluster"):
        spec = dict(config["cluster"])
        cls = import_object(spec.get("class", "distributed.LocalCluster"))
        return cls(**dict(spec.get("kwargs") or {}))
    local = {**dict(config.get("local_cluster") or {}), **dict(cluster_kwargs or {})}
    if local.get("gpus") is not None:
        return SpecCluster(**gpu_cluster_kwargs(local))
    local.setdefault("n_workers", os.cpu_count() or 1)
    local.setdefault("threads_per_worker", 1)
    local.setdefault("processes", True)
    return LocalCluster(**local)


def _scale(cluster: Any, spec: Mapping[str, Any]) -> None:
    if spec.get("adapt"):
        cluster.adapt(**dict(spec["adapt"]))
    elif spec.get("scale"):
        scale = spec["scale"]
        cluster.scale(**dict(scale)) if isinstance(scale, Mapping) else cluster.scale(int(scale))


# ---------------------------------------------------------------------------------------------
# What runs on a worker
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerContext:
    """Everything a worker process needs besides the nodes and the catalog (all plain data)."""

    package_name: str | None
    logging_config: dict | None
    config_loader: dict | None  # conf_source, env, runtime_params of the run's config loader
    jax_flags: dict
    run_id: str | None
    is_async: bool
    stop_event: str | None  # name of the distributed Event that tells tasks to stop
    return_outputs: frozenset[str]  # free pipeline outputs that live in memory only
    distributed_log_level: str = "WARNING"
    log_driver: str | None = None  # send log records to the driver (its live progress display)


_prepared: set[tuple] = set()
_hook_managers: dict[str | None, Any] = {}


def _prepare_worker(ctx: WorkerContext) -> None:
    """Once per worker process and run configuration: project, logging, config loader, JAX flags."""
    key = (ctx.package_name, repr(ctx.config_loader), repr(sorted(ctx.jax_flags.items())))
    if key in _prepared:
        return
    from kedro.framework import project  # noqa: PLC0415

    if ctx.package_name and project.PACKAGE_NAME != ctx.package_name:
        project.configure_project(ctx.package_name)
        if ctx.logging_config:
            project.configure_logging(ctx.logging_config)
    logging.getLogger("distributed").setLevel(ctx.distributed_log_level)
    if ctx.config_loader is not None:
        from ntk_linearity.experiment.config import set_active_config_loader  # noqa: PLC0415

        settings = project.settings
        try:
            loader = settings.CONFIG_LOADER_CLASS(**ctx.config_loader, **settings.CONFIG_LOADER_ARGS)
        except Exception:  # noqa: BLE001 (e.g. conf/ not on this machine: nodes get their parameters anyway)
            logger.warning("DaskRunner: cannot rebuild the run's config loader on this worker", exc_info=True)
        else:
            set_active_config_loader(loader)
    if ctx.jax_flags:
        import jax  # noqa: PLC0415

        for name, value in ctx.jax_flags.items():
            if getattr(jax.config, name) != value:
                jax.config.update(name, value)
    _prepared.add(key)


def _worker_hook_manager(package_name: str | None) -> PluginManager:
    """The project's hooks (``settings.HOOKS``) and plugins' hooks, created once per worker process."""
    if package_name not in _hook_managers:
        from kedro.framework.hooks.manager import (  # noqa: PLC0415
            _create_hook_manager,
            _register_hooks,
            _register_hooks_entry_points,
        )
        from kedro.framework.project import settings  # noqa: PLC0415

        manager = _create_hook_manager()
        _register_hooks(manager, settings.HOOKS)
        _register_hooks_entry_points(manager, settings.DISABLE_HOOKS_FOR_PLUGINS)
        _hook_managers[package_name] = manager
    return _hook_managers[package_name]


def _stop_requested(event_name: str | None) -> bool:
    if event_name is None:
        return False
    try:
        from distributed import Event  # noqa: PLC0415

        return bool(Event(event_name).is_set())
    except Exception:  # noqa: BLE001 (no client, scheduler gone: carry on, the driver decides)
        return False


def _worker_address() -> str:
    try:
        from distributed import get_worker  # noqa: PLC0415

        return str(get_worker().address)
    except ValueError:
        return "(not on a worker)"


def run_group(name: str, nodes: tuple[Node, ...], catalog_blob: bytes, ctx: WorkerContext) -> dict[str, Any]:
    """Run one group's nodes in order on a worker, loading from and saving to a fresh copy of the
    catalog. Returns a summary, and the data of ``ctx.return_outputs`` it produced."""
    import cloudpickle  # noqa: PLC0415

    started = time.perf_counter()
    _prepare_worker(ctx)
    route_worker_logs(ctx.log_driver, ctx.run_id)
    catalog = cloudpickle.loads(catalog_blob)
    hook_manager = _worker_hook_manager(ctx.package_name)
    done: list[str] = []
    for node in nodes:
        if _stop_requested(ctx.stop_event):
            return {"group": name, "stopped": True, "done": done, "worker": _worker_address(),
                    "seconds": time.perf_counter() - started, "outputs": {}}
        try:
            Task(node=node, catalog=catalog, is_async=ctx.is_async, hook_manager=hook_manager,
                 run_id=ctx.run_id).execute()
        except Exception as exc:
            exc.add_note(f"DaskRunner: task group '{name}' failed at node '{node.name}' "
                         f"on worker {_worker_address()}")
            try:
                exc.dask_runner_group = name  # type: ignore[attr-defined]
                exc.dask_runner_done = list(done)  # type: ignore[attr-defined]
            except AttributeError:  # exceptions with __slots__
                pass
            raise
        done.append(node.name)
    produced = {out for node in nodes for out in node.outputs}
    outputs = {out: catalog.load(out) for out in sorted(ctx.return_outputs & produced)}
    return {"group": name, "stopped": False, "done": done, "worker": _worker_address(),
            "seconds": time.perf_counter() - started, "outputs": outputs}


# ---------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------


class DaskRunner(AbstractRunner):
    """Runs each ``<sweep>.<run>`` namespace (and every other node) as one dask.distributed task.

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
                _scale(cluster, config["cluster"])
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
        import cloudpickle  # noqa: PLC0415

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
        try:
            catalog_blob = cloudpickle.dumps(catalog)
        except Exception as exc:
            raise DaskRunnerError(f"DaskRunner: the catalog cannot be pickled for the workers: {exc}") from exc

        config = self._config()
        with self._client(config) as client, forward_progress(client, run_id) as log_driver:
            ctx_args = (run_id, return_outputs, self._log_level(config), log_driver)
            self._run_on(client, pipeline, groups, catalog, catalog_blob, ctx_args)

    def _run_on(self, client: Any, pipeline: Pipeline, groups: list[TaskGroup], catalog: CatalogProtocol,
                catalog_blob: bytes, ctx_args: tuple) -> None:
        """Submit each group as a Dask future once the futures of its upstream groups have finished.

        The driver keeps the dependency graph rather than handing the upstream futures to Dask as task
        arguments: a Dask task runs where its arguments' data live, so every run would queue on the
        worker that generated the data. The catalog travels inside every task for the same reason (a
        scattered copy would tie the tasks to the workers that hold it, and workers that join later, as
        SLURM jobs do, would get nothing).
        """
        from distributed import Event, as_completed  # noqa: PLC0415

        run_id, return_outputs, log_level, log_driver = ctx_args
        stop_name = f"{STOP_EVENT_PREFIX}{run_id or uuid.uuid4().hex}"
        stop = Event(stop_name, client=client)
        stop.clear()
        ctx = self._worker_context(run_id, stop_name, return_outputs, log_level, log_driver)
        token = uuid.uuid4().hex[:8]
        pending = {group.name: group for group in groups}  # topological order
        finished: set[str] = set()
        running: dict[str, str] = {}  # future key -> group name
        futures: list[Any] = []

        def submit_ready() -> list[Any]:
            ready = [group for group in pending.values() if group.upstream <= finished]
            submitted = []
            for group in ready:
                del pending[group.name]
                future = client.submit(run_group, group.name, group.nodes, catalog_blob, ctx,
                                       key=f"{group.name}-{token}", pure=False)
                running[future.key] = group.name
                submitted.append(future)
            futures.extend(submitted)
            return submitted

        n_nodes = len(pipeline.nodes)
        self._logger.info("DaskRunner: %d nodes in %d Dask tasks", n_nodes, len(groups))
        done_nodes: set[str] = set()
        failure: BaseException | None = None
        failed_group: str | None = None
        not_run: list[str] = []
        try:
            completed = as_completed(submit_ready())
            for future in completed:
                name = running.pop(future.key)
                if future.status == "finished":
                    result = future.result()
                    done_nodes.update(result["done"])
                    for out, data in result["outputs"].items():
                        catalog.save(out, data)
                    if result["stopped"]:
                        not_run.append(name)
                        continue
                    finished.add(name)
                    self._logger.info("Completed task %s (%d nodes) on %s in %.1f s; %d of %d nodes done",
                                      name, len(result["done"]), result["worker"], result["seconds"],
                                      len(done_nodes), n_nodes)
                    if failure is None:
                        for new in submit_ready():
                            completed.add(new)
                    continue
                exc = future.exception() if future.status == "error" else None
                if exc is None:  # cancelled from outside (the dashboard, another client)
                    not_run.append(name)
                    failure = failure or DaskRunnerError(f"DaskRunner: task {name} was cancelled")
                    failed_group = failed_group or name
                    continue
                done_nodes.update(getattr(exc, "dask_runner_done", []))
                self._logger.error("Task %s failed: %s: %s", name, type(exc).__name__, exc)
                if failure is None:
                    failure, failed_group = exc, name
                    stop.set()  # running tasks stop before their next node
        except BaseException:  # KeyboardInterrupt (Ctrl-C), or anything else in the driver
            self._logger.warning("DaskRunner: interrupted; cancelling %d running Dask task(s)", len(running))
            _quietly(stop.set)
            _quietly(lambda: client.cancel(futures, force=True))
            raise

        if failure is not None:
            not_run += pending
            self._logger.error("DaskRunner: task %s failed; %d task(s) did not run or stopped early: %s",
                               failed_group, len(not_run), ", ".join(sorted(not_run)) or "none")
            done = [node for node in pipeline.nodes if node.name in done_nodes]
            self._suggest_resume_scenario(pipeline, done, catalog)
            raise failure
        if pending:  # pragma: no cover (group_nodes returns an acyclic graph)
            raise DaskRunnerError(f"DaskRunner: these tasks could not be scheduled: {', '.join(pending)}")


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
