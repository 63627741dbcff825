"""The end-to-end case: one small ``kedro run`` of the whole default chain in a throw-away copy of
the project (``conf/base`` and ``pyproject.toml``, an empty ``data/``, an environment ``bench`` that
shrinks every sweep to one or two small networks), in a child process, as a user would start it.
The project is the checkout of the ``ntk_linearity`` imported (the commit measured)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import ntk_linearity

ROOT = Path(ntk_linearity.__file__).resolve().parents[2]  # the checkout of the package measured
DATA_LAYERS = ("01_raw", "06_models", "07_model_output", "08_reporting")
ENV = "bench"


# Small values of the axes that set a network's size; the axis a sweep fits against keeps two values
# (a slope), every other axis its first
SMALL_AXES = {"width": [8, 16], "channels": [4, 8], "bottleneck_width": [2, 4], "bottleneck_channels": [2, 4],
              "depth": [1, 2], "seed": [0]}
SMALL_RUNS = {
    "training": {"max_steps": 60, "n_snapshots": 6, "progress_every": 30},
    "hessian": {"lanczos_steps": 16},
    "reporting": {"time_curve_width": 16},
}


def small_parameters(root: Path = ROOT) -> dict:
    """The environment's parameters: every sweep of ``conf/base`` (whatever sweeps it holds) shrunk to
    one or two small networks, 60 training steps."""
    import yaml

    sweeps = yaml.safe_load((root / "conf" / "base" / "parameters_sweeps.yml").read_text())["sweeps"]
    small = {}
    for name, sweep in sweeps.items():
        keep = lambda axis: 2 if axis == sweep.get("fit_against") else 1  # noqa: E731
        small[name] = {"axes": {axis: SMALL_AXES.get(axis, values)[: keep(axis)]
                                for axis, values in sweep["axes"].items()}}
    return {"sweeps": small} | SMALL_RUNS


def make_project(folder: Path, parameters: dict) -> Path:
    """A copy of the project's ``conf/base`` and ``pyproject.toml`` in ``folder`` with the environment
    :data:`ENV` overriding ``parameters``."""
    import yaml

    shutil.copytree(ROOT / "conf" / "base", folder / "conf" / "base")
    (folder / "conf" / "local").mkdir()
    (folder / "conf" / ENV).mkdir()
    (folder / "conf" / ENV / "parameters.yml").write_text(yaml.safe_dump(parameters))
    shutil.copy(ROOT / "pyproject.toml", folder / "pyproject.toml")
    (folder / "src").mkdir()  # the package itself is installed
    return folder


def _fresh_data(project: Path) -> None:
    shutil.rmtree(project / "data", ignore_errors=True)
    for layer in DATA_LAYERS:
        (project / "data" / layer).mkdir(parents=True)


def kedro_run_program() -> Callable[[], None]:
    """A thunk running ``kedro run --env bench`` on a new, empty ``data/`` each time, without JAX's
    persistent compilation cache: a cold first run, every time (not run here)."""
    project = make_project(Path(tempfile.mkdtemp(prefix="ntk_bench_kedro_")), small_parameters())
    env = os.environ | {"JAX_PLATFORMS": "cpu", "KEDRO_DISABLE_TELEMETRY": "1", "NTK_COMPILATION_CACHE": "off"}

    def run() -> None:
        _fresh_data(project)
        done = subprocess.run([sys.executable, "-m", "kedro", "run", "--env", ENV], cwd=project, env=env,
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"kedro run failed in {project}:\n{done.stderr[-2000:]}")

    return run
