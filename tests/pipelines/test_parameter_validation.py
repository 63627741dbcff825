"""Bad parameters stop a run before any computation, with one line naming the parameter, its value and
what is allowed (issue: bad input, failures and reproducibility)."""

from __future__ import annotations

import copy

import pytest
from kedro.config import OmegaConfigLoader

from ntk_linearity.pipelines.validation import ParameterError, validate_parameters
from ntk_linearity.run_config import default_config_loader

from kedro_project_utils import MINI, ROOT, TINY, data_files, kedro_cli, make_project


def _merged(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` merged key by key (the ``soft`` merge of the config loader)."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        merged[key] = _merged(merged[key], value) if isinstance(value, dict) and key in merged else value
    return merged


def _with(parameters: dict, dotted: str, value) -> dict:
    """``parameters`` with the key at ``dotted`` (``"training.tol"``) set to ``value``."""
    *groups, key = dotted.split(".")
    changed = copy.deepcopy(parameters)
    target = changed
    for group in groups:
        target = target[group]
    target[key] = value
    return changed


@pytest.fixture(scope="module")
def base() -> dict:
    """``conf/base`` with the values the expected messages quote pinned."""
    loader = OmegaConfigLoader(conf_source=str(ROOT / "conf"), env="base", base_env="base",
                               default_run_env="base")
    return _merged(loader["parameters"], {
        "data": {"n_samples": 32},
        "sweeps": {"width_sweep": {"widths": [30, 100, 1000, 10000]}},
        "reporting": {"time_curve_width": 1000},
    })


@pytest.mark.parametrize("env", ["local", "paper"])
def test_shipped_environments_are_valid(env):
    validate_parameters(default_config_loader(env)["parameters"])


@pytest.mark.parametrize("overrides", [TINY, MINI], ids=["tiny", "mini"])
def test_test_environments_are_valid(base, overrides):
    validate_parameters(_merged(base, overrides))


BAD = [
    ("sweeps.width_sweep.widths", [30, 0], "sweeps.width_sweep.widths[1] = 0: must be greater than 0"),
    ("sweeps.width_sweep.widths", [-4], "sweeps.width_sweep.widths[0] = -4: must be greater than 0"),
    ("sweeps.width_sweep.widths", [32.5], "sweeps.width_sweep.widths[0] = 32.5: must be a valid integer"),
    ("sweeps.width_sweep.widths", [], "sweeps.width_sweep.widths = []: must not be empty"),
    ("sweeps.width_sweep.widths", [30, 30], "sweeps.width_sweep.widths = [30, 30]: must not repeat a value"),
    ("sweeps.bottleneck_sweep.width", 0, "sweeps.bottleneck_sweep.width = 0: must be greater than 0"),
    ("sweeps.bottleneck_sweep.bottleneck_widths", [4, -1],
     "sweeps.bottleneck_sweep.bottleneck_widths[1] = -1: must be greater than 0"),
    ("sweeps.bottleneck_sweep.bottleneck_widths", [], "bottleneck_widths = []: must not be empty"),
    ("sweeps.seeds", [], "sweeps.seeds = []: must not be empty"),
    ("sweeps.seeds", [0, 1.5], "sweeps.seeds[1] = 1.5: must be a valid integer"),
    ("sweeps.seeds", ["0"], "sweeps.seeds[0] = '0': must be a valid integer"),
    ("data.seed", 0.5, "data.seed = 0.5: must be a valid integer"),
    ("sweeps.width_sweep.heads", ["linear", "tanh"],
     "sweeps.width_sweep.heads[1] = 'tanh': must be 'linear', 'swish' or 'softmax'"),
    ("model.activation", "sigmod", "model.activation = 'sigmod': must be 'tanh', 'relu'"),
    ("model.dtype", "float16", "model.dtype = 'float16': must be 'float32' or 'float64'"),
    ("model.init_scheme", "orthogonal", "model.init_scheme = 'orthogonal': must be 'iid' or 'antisymmetric'"),
    ("data.n_classes", 1, "data.n_classes = 1: must be at least 2 for the softmax head"),
    ("training.learning_rate.swish_output", 0.0,
     "training.learning_rate.swish_output = 0.0: must be greater than 0"),
    ("training.learning_rate.linear_output", -4.0,
     "training.learning_rate.linear_output = -4.0: must be greater than 0"),
    ("training.max_steps", 0, "training.max_steps = 0: must be greater than 0"),
    ("training.max_steps", 1e3, "training.max_steps = 1000.0: must be a valid integer"),
    ("training.n_snapshots", 1, "training.n_snapshots = 1: must be greater than or equal to 2"),
    ("training.tol", -1e-6, "training.tol = -1e-06: must be greater than or equal to 0"),
    ("training.on_divergence", "ignore", "training.on_divergence = 'ignore': must be 'raise' or 'skip'"),
    ("training.divergence_factor", 0.5, "training.divergence_factor = 0.5: must be greater than 1"),
    ("training.softmax_loss", "xent", "training.softmax_loss = 'xent': must be 'square' or 'kl'"),
    ("training.learnig_rate", 1.0, "training.learnig_rate = 1.0: not a known parameter"),
    ("hessian.lanczos_steps", 0, "hessian.lanczos_steps = 0: must be greater than 0"),
    ("hessian.probe_index", 32, "hessian.probe_index = 32: must be below data.n_samples = 32"),
    ("hessian.probe_index", -1, "hessian.probe_index = -1: must be greater than or equal to 0"),
    ("reporting.time_curve_width", 64,
     "reporting.time_curve_width = 64: must be one of sweeps.width_sweep.widths [30, 100, 1000, 10000]"),
    ("reporting.slope_ci_method", "jackknife",
     "reporting.slope_ci_method = 'jackknife': must be 'regression' or 'bootstrap'"),
    ("reporting.confidence", 1.5, "reporting.confidence = 1.5: must be less than 1"),
]


@pytest.mark.parametrize(("dotted", "value", "message"), BAD, ids=[f"{d}={v!r}" for d, v, _ in BAD])
def test_bad_value_gives_one_line_naming_parameter_value_and_allowed(base, dotted, value, message):
    with pytest.raises(ParameterError) as error:
        validate_parameters(_with(base, dotted, value))
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith("invalid parameters: ") and message in text


def test_antisymmetric_init_needs_an_even_last_hidden_layer(base):
    odd = _with(base, "sweeps.width_sweep.widths", [30, 101])
    parameters = _with(odd, "sweeps.bottleneck_sweep.width", 99)
    with pytest.raises(ParameterError, match=r"widths\[1\] = 101: must be even .*"
                                             r"bottleneck_sweep.width = 99: must be even"):
        validate_parameters(parameters)
    odd_bottleneck = _with(base, "sweeps.bottleneck_sweep.bottleneck_widths", [3, 5])  # m_b is not last
    validate_parameters(odd_bottleneck)
    validate_parameters(_with(_with(parameters, "model.init_scheme", "iid"), "reporting.time_curve_width", 30))


def test_every_problem_is_listed_on_the_one_line(base):
    parameters = _with(_with(base, "training.tol", -1.0), "sweeps.seeds", [])
    with pytest.raises(ParameterError) as error:
        validate_parameters(parameters)
    assert str(error.value) == ("invalid parameters: sweeps.seeds = []: must not be empty; "
                                "training.tol = -1.0: must be greater than or equal to 0")


def test_missing_group_or_key_is_named(base):
    without_tol = copy.deepcopy(base)
    del without_tol["training"]["tol"], without_tol["hessian"]
    with pytest.raises(ParameterError, match="training.tol is missing; hessian is missing"):
        validate_parameters(without_tol)


def test_kedro_run_exits_with_the_one_line_error_and_leaves_data_alone(tmp_path):
    project = make_project(tmp_path)
    previous = project / "data" / "01_raw" / "synthetic_data.npz"
    previous.write_bytes(b"a previous run's data")
    report = project / "data" / "08_reporting" / "runs.csv"
    report.write_text("namespace\n")
    before = data_files(project)

    process = kedro_cli(project, "run", "--env", "tiny",
                        "--params", "sweeps.bottleneck_sweep.width=0,training.on_divergence=ignore")
    assert process.wait(timeout=120) == 1
    output = (project / "kedro.log").read_text()
    assert ("Error: invalid parameters: sweeps.bottleneck_sweep.width = 0: must be greater than 0; "
            "training.on_divergence = 'ignore': must be 'raise' or 'skip'\n") in output
    assert "Traceback" not in output
    assert data_files(project) == before
    assert previous.read_bytes() == b"a previous run's data" and report.read_text() == "namespace\n"
