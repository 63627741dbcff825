"""Every error a user can cause is one line naming the key, file or path and what to do; sizes are
refused by arithmetic in under a second; tables are read only when whole (docs/operations.md)."""

from __future__ import annotations

import errno

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io.core import DatasetError

from ntk_linearity.cli import one_line
from ntk_linearity.experiment.config import ConfigurationError, active_parameters, set_active_config_loader
from ntk_linearity.experiment.parameters import validate_parameters
from ntk_linearity.pipelines.data_generation.nodes import data_shapes
from ntk_linearity.provenance.resources import ResourceError, check_resources

from kedro_project_utils import ROOT, data_files, kedro_cli, make_project
from test_parameter_validation import _with


def _loader(project, env: str) -> OmegaConfigLoader:
    return OmegaConfigLoader(conf_source=str(project / "conf"), env=env, base_env="base", default_run_env="local",
                             merge_strategy={"parameters": "soft"})


def _configuration_error(project, env: str) -> str:
    set_active_config_loader(_loader(project, env))
    try:
        with pytest.raises(ConfigurationError) as error:
            active_parameters()
    finally:
        set_active_config_loader(None)
    assert "\n" not in error.value.message
    return error.value.message


CONFIG_BAD = [
    ("merge", "sweeps:\n  width_sweep: [1, 2]\n",
     "conf/merge/parameters.yml: sweeps.width_sweep cannot be merged into conf/base, where it is a mapping"),
    ("syntax", "training:\n  tol: [1,\n max: 3\n",
     "conf/syntax/parameters.yml: line 4, column 1: did not find expected ',' or ']': not valid YAML"),
]


@pytest.mark.parametrize(("env", "text", "message"), CONFIG_BAD, ids=[c[0] for c in CONFIG_BAD])
def test_configuration_that_cannot_be_read_is_one_line_naming_file_and_key(tmp_path, env, text, message):
    project = make_project(tmp_path)
    (project / "conf" / env).mkdir()
    (project / "conf" / env / "parameters.yml").write_text(text)
    assert message in _configuration_error(project, env)


@pytest.mark.parametrize("env", ["../../outside_env", "/etc", "tiny/..", ".."])
def test_an_environment_is_a_folder_name_under_conf(tmp_path, env):
    project = make_project(tmp_path)
    (tmp_path / "outside_env").mkdir()
    message = _configuration_error(project, env)
    assert f"the configuration environment {env!r} (--env or KEDRO_ENV) is not a name" in message


SIZES = [
    {"data.n_samples": 1_000_000_000},
    {"images.height": 100_000, "images.width": 100_000},
    {"sweeps.depth_sweep.axes.depth": [100_000], "sweeps.depth_sweep.axes.width": [4096]},
]


@pytest.mark.parametrize("sizes", SIZES, ids=["n_samples", "images", "depth"])
def test_any_size_is_refused_by_arithmetic_with_what_fits(monkeypatch, sizes):
    monkeypatch.setenv("NTK_LINEARITY_MEMORY_LIMIT", "16GB")
    parameters = OmegaConfigLoader(conf_source=str(ROOT / "conf"), env="base", base_env="base",
                                   default_run_env="base")["parameters"]
    for dotted, value in sizes.items():
        parameters = _with(parameters, dotted, value)
    experiment = validate_parameters(parameters)
    with pytest.raises(ResourceError, match=r"needs about .* what fits with its other settings: ") as error:
        for dataset in ("synthetic_data", "synthetic_images"):
            check_resources([r for r in experiment.runs if r.dataset == dataset],
                            data_shapes(dataset, experiment.parameters))
    assert "\n" not in str(error.value.message)


def test_a_failed_save_is_one_line_with_the_path_and_the_cause():
    cause = OSError(errno.ENOSPC, "No space left on device")
    wrapped = OSError(f"cannot write /data/01_raw/x.npz: {cause.strerror}")
    wrapped.__cause__ = cause
    error = DatasetError("Failed while saving data to dataset NpzDataset(filepath=PurePosixPath('/data/01_raw/"
                         "x.npz'), protocol='file').\ncannot write /data/01_raw/x.npz: No space left on device")
    error.__cause__ = wrapped
    assert one_line(error) == "cannot write /data/01_raw/x.npz: No space left on device"


CLI_BAD = [
    (("--pipelines", "reportng"), "Error: Failed to find the pipeline named 'reportng'.",
     "Did you mean one of these instead? reporting"),
    (("--namespaces", "../../etc"), "Error: Pipeline does not contain nodes with the following namespaces: "
     "['../../etc']", "--verbose or NTK_VERBOSE=1"),
    (("--env", "../../outside_env"), "Error: the configuration environment '../../outside_env'", "is not a name"),
    (("--namespaces", "width_sweep.linear"), "Error: Pipeline does not contain nodes with the following namespaces: "
     "['width_sweep.linear']; a sweep's nodes are in sweeps.<sweep>: did you mean --namespaces "
     "sweeps.width_sweep.linear?", "NTK_VERBOSE=1"),
]


@pytest.mark.parametrize(("args", "start", "end"), CLI_BAD, ids=[f"{c[0][0]}={c[0][1]}" for c in CLI_BAD])
def test_kedro_run_gives_one_line_without_a_traceback_and_leaves_data_alone(tmp_path, args, start, end):
    project = make_project(tmp_path)
    (tmp_path / "outside_env").mkdir()
    before = data_files(project)
    assert kedro_cli(project, "run", *(("--env", "tiny") if "--env" not in args else ()), *args).wait(120) == 1
    output = (project / "kedro.log").read_text()
    line = next(line for line in output.splitlines() if line.startswith("Error: "))
    assert line.startswith(start) and end in line
    assert "Traceback" not in output and "╭" not in output
    assert data_files(project) == before


def test_an_unwritable_data_folder_is_one_line_naming_the_path(tmp_path):
    project = make_project(tmp_path)
    raw = project / "data" / "01_raw"
    raw.rmdir()
    raw.write_text("")  # a file where the folder should be: no save can succeed, even as root
    assert kedro_cli(project, "run", "--env", "tiny", "--pipelines", "data_generation").wait(180) == 1
    output = (project / "kedro.log").read_text()
    assert f"Error: synthetic_data: cannot write {raw}/synthetic_data.npz: {raw} is a file, not a folder" in output
    assert "Traceback" not in output and "Traceback" in (project / "logs" / "last_error.log").read_text()
