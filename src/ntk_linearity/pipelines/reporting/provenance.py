"""Provenance of a rendered report: where, when and with what it was made.

Collected in the pipeline's process by :func:`run_metadata` and handed to the report notebook.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ntk_linearity.experiment.config import DEFAULT_RUN_ENV, active_config_loader, active_project_root, project_root

PACKAGES = ("jax", "jaxlib", "numpy", "pandas", "kedro", "kedro-datasets", "matplotlib", "papermill",
            "nbconvert")


def git_revision(root: Path) -> dict[str, Any]:
    """Commit and dirty flag of the source tree at ``root``, or why there is none."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
    except FileNotFoundError:
        return {"commit": None, "note": "git is not installed"}
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return {"commit": None, "note": f"{root} is not a git repository (or has no commits)"}
    try:
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        dirty = None
    return {"commit": commit, "dirty": dirty, "note": ""}


def run_environment() -> str:
    """The Kedro configuration environment of the active run (``local`` when none was given)."""
    loader = active_config_loader()
    env = getattr(loader, "env", None) if loader is not None else None
    return env or os.environ.get("KEDRO_ENV") or DEFAULT_RUN_ENV


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def jax_devices() -> dict[str, Any]:
    import jax  # noqa: PLC0415 (already imported by the numerics in a pipeline run)

    return {"backend": jax.default_backend(), "devices": [str(device) for device in jax.devices()]}


def source_root() -> Path:
    """The project whose commit the report names: the active Kedro session's project (the folder
    holding its ``conf/``), whatever the working directory and wherever the package is installed
    (an Airflow task runs a non-editable install from any folder); the package's own checkout
    when no session is active."""
    return active_project_root() or project_root()


def run_metadata() -> dict[str, Any]:
    """Everything the report says about the run, collected in the pipeline's process."""
    root = source_root()
    return {
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "conf_env": run_environment(),
        "git": git_revision(root),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "jax": jax_devices(),
    }


