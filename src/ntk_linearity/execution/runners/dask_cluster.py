"""The DaskRunner's cluster: runner arguments, ``$NTK_DASK_SCHEDULER`` and ``conf/<env>/dask.yml``.

``conf/<env>/dask.yml`` (merged over ``conf/base``; :func:`load_dask_config`) describes either a
cluster class to start (``cluster:``, e.g. dask-jobqueue's SLURMCluster), one worker per GPU on this
machine (``local_cluster: {gpus: [...]}``) or a LocalCluster (:func:`make_cluster`); a scheduler
address (the runner's argument, ``$NTK_DASK_SCHEDULER`` or ``scheduler_address:``) connects to a running
cluster instead. Recipes in ``docs/dask.md``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping
from typing import Any

ENV_SCHEDULER = "NTK_DASK_SCHEDULER"
CONFIG_KEY = "dask"
CONFIG_PATTERNS = ["dask*", "dask*/**"]


class DaskRunnerError(RuntimeError):
    """A pipeline the DaskRunner cannot run as asked (not a failure inside a node)."""


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


def scale_cluster(cluster: Any, spec: Mapping[str, Any]) -> None:
    """Scale (``scale:``) or make adaptive (``adapt:``) a cluster started from ``cluster:`` in dask.yml."""
    if spec.get("adapt"):
        cluster.adapt(**dict(spec["adapt"]))
    elif spec.get("scale"):
        scale = spec["scale"]
        cluster.scale(**dict(scale)) if isinstance(scale, Mapping) else cluster.scale(int(scale))
