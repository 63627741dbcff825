"""Test-session setup shared by every test module.

Environment variables are set at import time, before any test module (or the
project package) imports JAX or Kedro: JAX reads ``JAX_PLATFORMS`` when its
backend is first initialised and kedro-telemetry checks
``KEDRO_DISABLE_TELEMETRY`` on every CLI call (offline machines stall on it).
"""

import os
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["KEDRO_DISABLE_TELEMETRY"] = "1"
# One JAX compilation cache for every project copy and `kedro run` subprocess of the session (and
# the next session): the tests' many small runs compile the same programs.
os.environ.setdefault("NTK_COMPILATION_CACHE", str(Path(__file__).resolve().parents[1] / ".cache" / "jax"))
# Every program of the test session is tiny: compile it without LLVM's optimisation passes (what
# ntk_linearity.numerics.compiling does for small programs of a run; a third less compile time). Only
# speed changes: the tests compare numbers to tolerances, or programs compiled the same way.
QUICK_XLA_FLAG = "--xla_backend_optimization_level=0"
os.environ["XLA_FLAGS"] = " ".join(filter(None, [os.environ.get("XLA_FLAGS", ""), QUICK_XLA_FLAG]))
# The package sets LAPACK's threads on import (one, as in a Dask worker): import it before any test module
# imports NumPy, so that the in-process runs compute as `kedro run` and the Dask workers do.
import ntk_linearity  # noqa: E402,F401


import signal  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

# A suite started in the background of a non-interactive shell (`make test &`, `nohup`) inherits SIGINT
# ignored, and so would every `kedro run` it starts (Python keeps an ignored SIGINT ignored), which the
# Ctrl-C tests need delivered. A handler of this process resets to the default in its children.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

sys.path.insert(0, str(Path(__file__).resolve().parent / "pipelines"))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """For pytest-xdist's ``--dist loadgroup`` (``make test``): the tests that share the session's
    ``tiny_project`` form one group, run first (its ``kedro run`` is the longest piece of the suite), and
    every other test runs with the rest of its module, so that each fixture is set up once. Without
    pytest-xdist (``-p no:xdist``) the tests keep their order and get no group marker."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    def uses_tiny_project(item: pytest.Item) -> bool:
        return "tiny_project" in getattr(item, "fixturenames", ())

    items.sort(key=lambda item: not uses_tiny_project(item))
    for item in items:
        group = "tiny_project" if uses_tiny_project(item) else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy on which ``kedro run --env tiny`` (every pipeline, the report included) ran
    once per test session; tests that change it leave it complete."""
    from kedro_project_utils import make_project, run_kedro  # noqa: PLC0415

    project = make_project(tmp_path_factory.mktemp("tiny"))
    run_kedro(project)
    return project
