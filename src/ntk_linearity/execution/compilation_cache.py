"""JAX's persistent compilation cache for the project's runs.

On the ``base`` grids most of a run's time is XLA compiling: every network shape compiles its
training loop, kernel factors and Hessian programs (seconds each on a CPU). With the cache, a later
``kedro run`` (another environment, ``--only-missing-outputs``, the tests' many small runs) loads
the programs it has compiled before instead. An executable is looked up by a hash of its program,
the compile options, the XLA flags and the JAX version, so the cache never changes a number;
an entry JAX cannot read (e.g. cut short by a kill) is recompiled, with a warning.

``$NTK_COMPILATION_CACHE``: the cache's folder (relative paths from the project root), or ``off``;
by default ``.cache/jax`` in the project.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

ENV_CACHE = "NTK_COMPILATION_CACHE"
DEFAULT_CACHE = Path(".cache") / "jax"
MIN_COMPILE_SECONDS = 0.2  # programs compiling faster than this are not worth a file


def cache_directory(project_path: Path) -> Path | None:
    """The cache folder ``$NTK_COMPILATION_CACHE`` names (``None`` for ``off``)."""
    value = os.environ.get(ENV_CACHE, "").strip()
    if value.lower() == "off":
        return None
    path = Path(value) if value else DEFAULT_CACHE
    return path if path.is_absolute() else Path(project_path) / path


def enable_compilation_cache(project_path: Path) -> Path | None:
    """Point JAX at the cache folder, in this process and in the processes it starts (Dask
    workers read the same variables when they import JAX). Returns the folder, or ``None``."""
    directory = cache_directory(project_path)
    if directory is None:
        return None
    settings = {"jax_compilation_cache_dir": str(directory),
                "jax_persistent_cache_min_compile_time_secs": MIN_COMPILE_SECONDS}
    for name, value in settings.items():
        jax.config.update(name, value)
        os.environ[name.upper()] = str(value)
    return directory
