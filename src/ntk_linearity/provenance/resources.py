"""Refuse, before any node runs, a run that cannot fit in memory.

A width of 1e9 would otherwise abort inside XLA with a C++ stack trace, and ``max_steps = 1e10``
would fail allocating the loss array after the data was generated. The estimate of each run is
:func:`ntk_linearity.numerics.memory.peak_memory_bytes`; it must fit in :data:`USABLE_FRACTION`
of the available memory: the accelerator's memory limit when JAX runs on one, else the host's
available memory, or the bytes given in the environment variable :data:`MEMORY_LIMIT_ENV`
(e.g. ``64GB``; for a Dask cluster whose workers are larger than the machine that starts it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import click
import jax
import psutil

from ntk_linearity.experiment.sweeps import RunSpec
from ntk_linearity.experiment.families import FAMILIES
from ntk_linearity.numerics.memory import peak_memory_bytes

MEMORY_LIMIT_ENV = "NTK_LINEARITY_MEMORY_LIMIT"
USABLE_FRACTION = 0.8  # headroom for what the estimate leaves out (XLA buffers, compilation)
UNITS = {"": 1, "B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}


class ResourceError(click.ClickException):
    """A run needs more memory than there is (``kedro run`` prints the one-line message)."""


def parse_bytes(text: str) -> int:
    """``"64GB"``, ``"512 MB"`` or ``"1000000"`` as a number of bytes (binary units)."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?B?)\s*", text.upper())
    if not match:
        raise ResourceError(f"{MEMORY_LIMIT_ENV} = {text!r}: must be a size such as 64GB or 512MB")
    return int(float(match[1]) * UNITS[match[2] if match[2] in UNITS else match[2] + "B"])


def available_memory() -> tuple[int, str]:
    """The memory a run may use and where that number comes from."""
    if os.environ.get(MEMORY_LIMIT_ENV):
        return parse_bytes(os.environ[MEMORY_LIMIT_ENV]), MEMORY_LIMIT_ENV
    device = jax.devices()[0]
    stats = device.memory_stats() if device.platform != "cpu" else None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"]), f"{device.device_kind} memory"
    return int(psutil.virtual_memory().available), "available host memory"


def run_peak_memory(run: RunSpec, data: Mapping[str, Any], model_settings: Any = None,
                    max_steps: int | None = None) -> dict[str, int]:
    """The memory estimate of ``run`` (optionally with other model settings or step count)."""
    model = FAMILIES[run.family].build(model_settings or run.model, data)
    return peak_memory_bytes(model, len(data["X"]), lanczos_steps=run.hessian.lanczos_steps,
                             max_steps=max_steps or run.training.max_steps,
                             n_snapshots=run.training.n_snapshots)


def largest_width(run: RunSpec, data: Mapping[str, Any], limit: float) -> int | None:
    """The largest even ``width`` (every initialisation accepts it) whose estimate fits in ``limit``
    bytes, other settings unchanged; ``None`` when the run has no width or width 2 does not fit."""
    if "width" not in type(run.model).model_fields:
        return None

    def fits(half_width: int) -> bool:
        settings = run.model.model_copy(update={"width": 2 * half_width})
        return sum(run_peak_memory(run, data, settings).values()) <= limit

    low, high = 1, max(run.model.width // 2, 1)
    if not fits(low):
        return None
    while low < high:  # the largest half width that fits lies in [low, high]
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return 2 * low


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.3g} GB"


def check_resources(runs: Iterable[RunSpec], data: Mapping[str, Any]) -> None:
    """Refuse the largest run when its estimate does not fit, with the estimate, the limit and the
    largest width and step count that would fit."""
    runs = list(runs)
    if not runs:
        return
    by_settings: dict[tuple, dict[str, int]] = {}  # runs that differ only by seed share one estimate
    for run in runs:
        key = (run.family, run.model, run.hessian.lanczos_steps, run.training.max_steps, run.training.n_snapshots)
        if key not in by_settings:
            by_settings[key] = run_peak_memory(run, data)
    estimates = {run.namespace: by_settings[(run.family, run.model, run.hessian.lanczos_steps,
                                             run.training.max_steps, run.training.n_snapshots)] for run in runs}
    run = max(runs, key=lambda r: sum(estimates[r.namespace].values()))
    parts = estimates[run.namespace]
    available, source = available_memory()
    limit = USABLE_FRACTION * available
    if sum(parts.values()) <= limit:
        return
    itemsize = parts["loss_array"] // (run.training.max_steps + 1)
    steps = int((limit - sum(parts.values()) + parts["loss_array"]) // itemsize) - 1
    width = largest_width(run, data, limit)
    bounds = [f"width <= {width}" if width else "", f"max_steps <= {steps}" if steps > 0 else ""]
    detail = ", ".join(f"{name.replace('_', ' ')} {_gb(size)}" for name, size in parts.items() if size)
    raise ResourceError(
        f"run {run.namespace} needs about {_gb(sum(parts.values()))} ({detail}) but "
        f"{int(USABLE_FRACTION * 100)}% of the {source} is {_gb(limit)}; what fits with its other "
        f"settings: {' or '.join(b for b in bounds if b) or 'nothing'} (set {MEMORY_LIMIT_ENV} when "
        "the workers have more memory than this machine)")
