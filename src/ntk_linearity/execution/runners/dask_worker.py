"""What runs on a Dask worker: one task group's nodes (:func:`run_group`, the function the DaskRunner
submits; workers import it from this module when they unpickle a task).

Each worker process configures the Kedro project (``configure_project``), Kedro's logging, the run's
config loader (so ``run_config.active_parameters()`` sees ``--env``/``--params`` there too), the JAX
flags of the driver (``jax_enable_x64`` for float64 sweeps, set by ``register_pipelines``, which never
runs on a worker) and a hook manager with the project's and plugins' hooks: node and dataset hooks run
on the workers, pipeline hooks in the driver (the session). The session's catalog and the group's
nodes arrive pickled with every task and are unpickled afresh here, inside the task and one task at a
time per worker process, so the modules they need are imported in the task's thread (never on the
worker's event loop, concurrently with a running task), and a module the worker cannot import fails the
task with the group's name. Nodes load their inputs from and save their outputs to the catalog exactly
as under the SequentialRunner. Before each node, a task checks the distributed ``Event`` that the
driver sets when another task has failed, and stops if it is set.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kedro.runner.task import Task

from ntk_linearity.execution.progress import route_worker_logs

if TYPE_CHECKING:
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

# JAX flags copied from the driver to every worker: register_pipelines() switches on 64-bit JAX for
# float64 sweeps, and register_pipelines() never runs in a worker process.
JAX_FLAGS = ("jax_enable_x64", "jax_default_matmul_precision")

logger = logging.getLogger(__name__)


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
_SET_UP = threading.Lock()  # one task at a time prepares the process and unpickles (imports) its inputs


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


def _fail(exc: Exception, name: str, where: str, done: list[str]) -> None:
    """Name the group, ``where`` it failed and the worker in ``exc``'s notes; record the nodes done."""
    exc.add_note(f"DaskRunner: task group '{name}' failed {where} on worker {_worker_address()}")
    try:
        exc.dask_runner_group = name  # type: ignore[attr-defined]
        exc.dask_runner_done = list(done)  # type: ignore[attr-defined]
    except AttributeError:  # exceptions with __slots__
        pass


def _set_up(name: str, nodes_blob: bytes, catalog_blob: bytes, ctx: WorkerContext) -> tuple[tuple, Any, Any]:
    """Prepare this worker process, its hook manager, and unpickle the group's nodes and a fresh copy of
    the catalog, importing the modules they need, one task at a time."""
    import cloudpickle  # noqa: PLC0415

    with _SET_UP:
        _prepare_worker(ctx)
        route_worker_logs(ctx.log_driver, ctx.run_id)
        hook_manager = _worker_hook_manager(ctx.package_name)
        try:
            return cloudpickle.loads(nodes_blob), cloudpickle.loads(catalog_blob), hook_manager
        except Exception as exc:
            _fail(exc, name, "while unpickling its nodes and catalog", [])
            raise


def run_group(name: str, nodes_blob: bytes, catalog_blob: bytes, ctx: WorkerContext) -> dict[str, Any]:
    """Run one group's nodes (pickled: ``nodes_blob``) in order on a worker, loading from and saving to
    a fresh copy of the catalog. Returns a summary, and the data of ``ctx.return_outputs`` it produced."""
    started = time.perf_counter()
    nodes, catalog, hook_manager = _set_up(name, nodes_blob, catalog_blob, ctx)
    done: list[str] = []
    for node in nodes:
        if _stop_requested(ctx.stop_event):
            return {"group": name, "stopped": True, "done": done, "worker": _worker_address(),
                    "seconds": time.perf_counter() - started, "outputs": {}}
        try:
            Task(node=node, catalog=catalog, is_async=ctx.is_async, hook_manager=hook_manager,
                 run_id=ctx.run_id).execute()
        except Exception as exc:
            _fail(exc, name, f"at node '{node.name}'", done)
            raise
        done.append(node.name)
    produced = {out for node in nodes for out in node.outputs}
    outputs = {out: catalog.load(out) for out in sorted(ctx.return_outputs & produced)}
    return {"group": name, "stopped": False, "done": done, "worker": _worker_address(),
            "seconds": time.perf_counter() - started, "outputs": outputs}
