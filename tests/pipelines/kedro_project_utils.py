"""Run the project's pipelines through a real KedroSession on a throw-away copy of the project.

``kedro_project`` copies ``conf/`` and ``pyproject.toml`` into a temporary folder (so ``data/`` there
starts empty) and adds an environment ``tiny``; ``run_kedro`` runs a session on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from ntk_linearity.datasets import AtomicCSVDataset
from ntk_linearity.datasets.atomic import TEMPORARY

ROOT = Path(__file__).resolve().parents[2]
KEDRO = Path(sys.executable).with_name("kedro")
DATA_LAYERS = ["01_raw", "06_models", "07_model_output", "08_reporting"]

# The convolutional sweeps of conf/base at one small network each: every test grid gets them unless
# it names them, so that no test environment trains conf/base's convolutional grids (every new
# network shape costs seconds of XLA compilation).
SMALL_CONV = {
    "cnn_channel_sweep": {"head": ["linear"], "channels": [4], "seed": [0]},
    "resnet_channel_sweep": {"channels": [4], "seed": [0]},
    "cnn_bottleneck_sweep": {"bottleneck_channels": [2], "channels": [8], "seed": [0]},
}
N_SMALL_CONV_RUNS = 3
# The step-size sweep of conf/base at two small networks (one below the limit eta lambda_0 = 2, one above).
SMALL_LR = {"lr_sweep": {"eta_lambda0": [0.5, 2.6], "width": [8], "seed": [0]}}
N_SMALL_LR_RUNS = 2
# The sweeps of the paper's Appendix A and B (parameterisation, output scale) at a few small networks
# each, for the same reason: two widths (a slope) and two output scales.
SMALL_APPENDIX = {
    "parameterization_sweep": {"parameterization": ["ntk", "standard"], "head": ["linear"], "width": [8, 32],
                               "seed": [0]},
    "output_scale_sweep": {"head": ["swish"], "width": [8], "output_scale": [1, 10], "seed": [0]},
}
N_SMALL_APPENDIX_RUNS = 6
# The real-data sweep of conf/base (scikit-learn's digits) at two small networks (a slope).
SMALL_DIGITS = {"digits_width_sweep": {"head": ["linear"], "width": [8, 16], "seed": [0]}}
N_SMALL_DIGITS_RUNS = 2
# the runs every test grid gets besides its own
N_SMALL_RUNS = N_SMALL_CONV_RUNS + N_SMALL_LR_RUNS + N_SMALL_APPENDIX_RUNS + N_SMALL_DIGITS_RUNS


def sweep_grid(**axes) -> dict:
    """``sweeps.<name>.axes`` overrides: ``sweep_grid(width_sweep={"width": [8, 32]})``; the
    convolutional, step-size, appendix and digits sweeps not named get :data:`SMALL_CONV`,
    :data:`SMALL_LR`, :data:`SMALL_APPENDIX` and :data:`SMALL_DIGITS`."""
    small = SMALL_CONV | SMALL_LR | SMALL_APPENDIX | SMALL_DIGITS
    return {name: {"axes": values} for name, values in (small | axes).items()}


TINY = {
    "sweeps": sweep_grid(
        width_sweep={"head": ["linear", "swish", "softmax"], "width": [8, 32], "seed": [0, 1]},
        bottleneck_sweep={"bottleneck_width": [2, 4], "width": [16], "seed": [0]},
        depth_sweep={"depth": [1, 2], "width": [8, 32], "seed": [0]},
        cnn_channel_sweep={"head": ["linear"], "channels": [4, 8], "seed": [0]},  # two points: a slope
    ),
    "training": {"max_steps": 60, "n_snapshots": 6, "progress_every": 30},
    "hessian": {"lanczos_steps": 16},
    "reporting": {"time_curve_width": 32},
}


# Smaller than TINY for tests that run the chain several times: the linear head at 2 widths, the
# bottleneck network at 1 and the depth sweep at 1 depth, with 2 seeds: 8 runs (and SMALL_CONV, SMALL_APPENDIX).
MINI = {
    "sweeps": sweep_grid(
        width_sweep={"head": ["linear"], "width": [8, 16], "seed": [0, 1]},
        bottleneck_sweep={"bottleneck_width": [2], "width": [8], "seed": [0, 1]},
        depth_sweep={"depth": [2], "width": [8], "seed": [0, 1]},
    ),
    "training": {"max_steps": 60, "n_snapshots": 6, "progress_every": 30},
    "hessian": {"lanczos_steps": 16},
    "reporting": {"time_curve_width": 16},
}


def write_env(project: Path, env: str, parameters: dict) -> None:
    """Create ``conf/<env>/parameters.yml`` overriding single keys of ``conf/base``."""
    folder = project / "conf" / env
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "parameters.yml").write_text(yaml.safe_dump(parameters))


def make_project(tmp_path: Path) -> Path:
    """A copy of the project's ``conf/base`` and ``pyproject.toml`` with an empty ``data/``."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(ROOT / "conf" / "base", project / "conf" / "base")
    (project / "conf" / "local").mkdir()
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    (project / "src").mkdir()  # the package itself is installed (editable)
    for layer in DATA_LAYERS:
        (project / "data" / layer).mkdir(parents=True)
    write_env(project, "tiny", TINY)
    return project


def run_kedro(project: Path, env: str = "tiny", **run_kwargs) -> dict:
    """``kedro run --env <env>`` in-process; ``run_kwargs`` go to ``KedroSession.run``."""
    bootstrap_project(project)  # re-registers the pipelines for this project and environment
    with KedroSession.create(project_path=project, env=env) as session:
        return session.run(**run_kwargs)


def latest(path: Path) -> Path:
    """The newest version of a versioned dataset ``path`` (``path/<version>/<name>``)."""
    versions = sorted(path.iterdir())
    return versions[-1] / path.name


def kedro_cli(project: Path, *args: str) -> subprocess.Popen:
    """Start ``kedro <args>`` in ``project`` as a child process; its stdout and stderr go to
    ``project/kedro.log`` (a pipe could fill up and block it)."""
    with open(project / "kedro.log", "w") as log:
        return subprocess.Popen(
            [str(KEDRO), *args], cwd=project, stdout=log, stderr=subprocess.STDOUT,
            env=os.environ | {"JAX_PLATFORMS": "cpu", "KEDRO_DISABLE_TELEMETRY": "1"},
        )


def data_files(project: Path) -> dict[str, int]:
    """Every file under ``project/data`` (relative path) with its modification time in ns."""
    data = project / "data"
    return {str(path.relative_to(data)): path.stat().st_mtime_ns
            for path in data.rglob("*") if path.is_file()}


def assert_nothing_partial(project: Path) -> None:
    """After a Ctrl-C before any sweep finished: no atomic write left its temporary file, and reporting
    holds only the outputs that need no sweep run, whole (each table matches its digest). A grid without
    ball runs (MINI, the DaskRunner tests' GRID) gets its ball table (empty) and the figure drawn from it
    right after the data generation, before any run."""
    data = project / "data"
    assert not [path for path in data.rglob(".*") if TEMPORARY.match(path.name)]
    reporting = data / "08_reporting"
    assert {path.name for path in reporting.iterdir()} <= {"ball.csv", "ball_bound.png"}
    for table in reporting.rglob("*.csv"):
        if table.is_file():
            AtomicCSVDataset(filepath=str(table)).load()
