"""Bad parameters stop a run before any computation, with one line naming the parameter, its value and
what is allowed (docs/configuration.md, "Changing parameters")."""

from __future__ import annotations

import copy

import pytest
from kedro.config import OmegaConfigLoader

from ntk_linearity.experiment.parameters import ParameterError, validate_parameters
from ntk_linearity.experiment.config import default_config_loader

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
    parameters = _merged(loader["parameters"], {
        "data": {"n_samples": 32},
        "sweeps": {"width_sweep": {"axes": {"width": [30, 100, 1000, 10000]}}},
        "reporting": {"time_curve_width": 1000},
    })
    settings = parameters["sweeps"]["width_sweep"]["settings"]  # the step size as learning_rate
    settings.pop("eta_lambda0", None)
    settings["learning_rate"] = {"by": "head", "values": {"linear": 8.0, "swish": 20.0, "softmax": 40.0}}
    return parameters


@pytest.mark.parametrize("env", ["local", "paper"])
def test_shipped_environments_are_valid(env):
    validate_parameters(default_config_loader(env)["parameters"])


@pytest.mark.parametrize("overrides", [TINY, MINI], ids=["tiny", "mini"])
def test_test_environments_are_valid(base, overrides):
    validate_parameters(_merged(base, overrides))


W = "sweeps.width_sweep"
BAD = [
    (f"{W}.axes.width", [30, 0], f"{W}.axes.width[1] = 0: must be greater than 0"),
    (f"{W}.axes.width", [-4], f"{W}.axes.width[0] = -4: must be greater than 0"),
    (f"{W}.axes.width", [32.5], f"{W}.axes.width[0] = 32.5: must be a valid integer"),
    (f"{W}.axes.width", ["64"], f"{W}.axes.width[0] = '64': must be a valid integer"),
    (f"{W}.axes.width", [], f"{W}.axes.width = []: must not be empty"),
    (f"{W}.axes.width", [30, 30], f"{W}.axes.width = [30, 30]: must not repeat a value"),
    (f"{W}.axes.seed", [0, 1.5], f"{W}.axes.seed[1] = 1.5: must be a valid integer"),
    (f"{W}.axes.head", ["linear", "tanhh"], f"{W}.axes.head[1] = 'tanhh': must be 'linear', 'swish', "),
    (f"{W}.axes.widht", [30], f"{W}.axes.widht: not an axis of family 'mlp' (did you mean 'width'?)"),
    (f"{W}.fit_against", "depth", f"{W}.fit_against = 'depth': must be one of the sweep's axes ['head', 'width']"),
    (f"{W}.group_by", ["width"], f"{W}.group_by: 'width' must be an axis of the sweep other than fit_against"),
    (f"{W}.family", "cnm", f"{W}.family = 'cnm': must be one of ['mlp', 'cnn', 'resnet'] (did you mean 'cnn'?)"),
    (f"{W}.settings.learning_rate", {"relative_to_critical": -1.0},
     f"{W} (run linear_m30_s0): learning_rate.relative_to_critical = {{'relative_to_critical': -1.0}}: must be "
     "greater than 0"),
    (f"{W}.settings.learnig_rate", 1.0, f"{W}.settings.learnig_rate: not a setting of family 'mlp' "
     "(did you mean 'learning_rate'?)"),
    (f"{W}.settings.learning_rate", {"by": "head", "values": {"linear": 8.0}},
     f"{W}.settings.learning_rate.values: no value for head = 'swish'"),
    (f"{W}.architecture", "wide_output", f"{W}.architecture = 'wide_output': must be one of"),
    ("sweeps.bottleneck_sweep.settings.depth", 2,
     "sweeps.bottleneck_sweep (run mb4_m1000_s0): bottleneck_width needs depth >= 3"),
    ("sweeps.bottleneck_sweep.axes.bottleneck_width", [4, -1],
     "sweeps.bottleneck_sweep.axes.bottleneck_width[1] = -1: must be greater than 0"),
    ("sweeps.reporting", {}, "sweeps.reporting.family is missing"),
    ("data.seed", 0.5, "data.seed = 0.5: must be a valid integer"),
    ("model.activation", "sigmod", "model.activation = 'sigmod': must be 'tanh', 'relu'"),
    ("model.dtype", "float16", "model.dtype = 'float16': must be 'float32' or 'float64'"),
    ("model.init_scheme", "orthogonal", "model.init_scheme = 'orthogonal': must be 'iid' or 'antisymmetric'"),
    ("data.n_classes", 1, "data.n_classes = 1: must be at least 2 for the softmax head (sweeps output_scale_sweep, width_sweep)"),
    ("training.max_steps", 0, "training.max_steps = 0: must be greater than 0"),
    ("training.max_steps", 1e3, "training.max_steps = 1000.0: must be a valid integer"),
    ("training.n_snapshots", 1, "training.n_snapshots = 1: must be greater than or equal to 2"),
    ("training.tol", -1e-6, "training.tol = -1e-06: must be greater than or equal to 0"),
    ("training.on_divergence", "ignore", "training.on_divergence = 'ignore': must be 'raise' or 'skip'"),
    ("training.divergence_factor", 0.5, "training.divergence_factor = 0.5: must be greater than 1"),
    ("training.softmax_loss", "xent", "training.softmax_loss = 'xent': must be 'square' or 'kl'"),
    ("training.learnig_rate", 1.0, "training.learnig_rate = 1.0: not a known parameter"),
    ("trainign", {"tol": 1e-6}, "trainign = {'tol': 1e-06}: not a known parameter (did you mean 'training'?)"),
    ("reportng", {}, "reportng = {}: not a known parameter (did you mean 'reporting'?)"),
    ("hessian.lanczos_steps", 0, "hessian.lanczos_steps = 0: must be greater than 0"),
    ("hessian.probe_index", 32, "hessian.probe_index = 32: must be below data.n_samples = 32"),
    ("hessian.probe_index", -1, "hessian.probe_index = -1: must be greater than or equal to 0"),
    ("reporting.time_curve_width", 64,
     "reporting.time_curve_width = 64: must be one of the widths of the one-hidden-layer runs [30, 100, 1000, 10000]"),
    ("reporting.slope_ci_method", "jackknife",
     "reporting.slope_ci_method = 'jackknife': must be 'regression' or 'bootstrap'"),
    ("reporting.confidence", 1.5, "reporting.confidence = 1.5: must be less than 1"),
    # integers beyond what the numerics take (a PRNG key word, an int32 size) are refused, not overflowed
    ("data.seed", 99999999999999999999, "data.seed = 99999999999999999999: must be less than or equal to 4294967295"),
    (f"{W}.axes.seed", [0, 99999999999999999999],
     f"{W}.axes.seed[1] = 99999999999999999999: must be less than or equal to 4294967295"),
    ("images.seed", 2**32, "images.seed = 4294967296: must be less than or equal to 4294967295"),
    ("data.n_samples", 10**12, "data.n_samples = 1000000000000: must be less than or equal to 2147483647"),
    (f"{W}.axes.width", [2**40], f"{W}.axes.width[0] = 1099511627776: must be less than or equal to 2147483647"),
    # did-you-mean inside a sweep block and its ball: block; a misspelt sweep name is asked about
    (f"{W}.fit_againts", "width", f"{W}.fit_againts = 'width': not a known parameter (did you mean 'fit_against'?)"),
    (f"{W}.ball.direction", 8, f"{W}.ball.direction = 8: not a known parameter (did you mean 'directions'?)"),
    ("sweeps.widht_sweep", {"axes": {"width": [8]}},
     "sweeps.widht_sweep: not a sweep of the configuration (did you mean 'width_sweep'?); a new sweep needs "
     "family, architecture, fit_against"),
]


@pytest.mark.parametrize(("dotted", "value", "message"), BAD, ids=[f"{d}={v!r}" for d, v, _ in BAD])
def test_bad_value_gives_one_line_naming_parameter_value_and_allowed(base, dotted, value, message):
    with pytest.raises(ParameterError) as error:
        validate_parameters(_with(base, dotted, value))
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith("invalid parameters: ") and message in text


def test_a_refused_value_is_never_suggested(base):
    with pytest.raises(ParameterError) as error:
        validate_parameters(_with(base, f"{W}.fit_against", "seed"))
    assert str(error.value).endswith(f"{W}.fit_against = 'seed': must be one of the sweep's axes ['head', 'width']")


def test_antisymmetric_init_needs_an_even_last_hidden_layer(base):
    odd = _with(base, f"{W}.axes.width", [30, 101])
    parameters = _with(odd, "sweeps.bottleneck_sweep.axes.width", [99])
    with pytest.raises(ParameterError, match=r"width_sweep \(run linear_m101_s0\): width = 101 must be even .*"
                                             r"bottleneck_sweep \(run mb4_m99_s0\): width = 99 must be even"):
        validate_parameters(parameters)
    odd_bottleneck = _with(base, "sweeps.bottleneck_sweep.axes.bottleneck_width", [3, 5])  # m_b is not last
    validate_parameters(odd_bottleneck)
    validate_parameters(_with(_with(parameters, "model.init_scheme", "iid"), "reporting.time_curve_width", 30))


def test_every_problem_is_listed_on_the_one_line(base):
    parameters = _with(_with(base, "training.tol", -1.0), "hessian.lanczos_steps", 0)
    with pytest.raises(ParameterError) as error:
        validate_parameters(parameters)
    assert str(error.value) == ("invalid parameters: training.tol = -1.0: must be greater than or equal to 0; "
                                "hessian.lanczos_steps = 0: must be greater than 0")
    two_sweeps = _with(_with(base, f"{W}.axes.seed", []), "sweeps.depth_sweep.fit_against", "seed")
    with pytest.raises(ParameterError) as error:
        validate_parameters(two_sweeps)
    assert f"{W}.axes.seed = []: must not be empty" in str(error.value)
    assert "sweeps.depth_sweep.fit_against = 'seed'" in str(error.value)


def test_runs_are_the_product_of_the_axes_in_order_with_readable_namespaces(base):
    experiment = validate_parameters(base)
    width, bottleneck, depth = (next(s for s in experiment.sweeps if s.name == name)
                                for name in ("width_sweep", "bottleneck_sweep", "depth_sweep"))
    assert [run.namespace for run in width.runs[:4]] == [
        "width_sweep.linear_m30_s0", "width_sweep.linear_m30_s1", "width_sweep.linear_m30_s2",
        "width_sweep.linear_m100_s0"]
    assert len(width.runs) == 3 * 4 * 3 and len({run.namespace for run in experiment.runs}) == len(experiment.runs)
    assert {run.learning_rate for run in width.runs if run.head == "swish"} == {20.0}
    assert {run.architecture for run in width.runs} == {"linear_output", "swish_output", "softmax_output"}
    assert bottleneck.runs[0].namespace == "bottleneck_sweep.mb4_m1000_s0"
    assert bottleneck.runs[0].model.hidden_widths == (1000, 4, 1000)
    assert depth.runs[-1].model.hidden_widths == (512,) * 4 and depth.runs[-1].group == "L4"
    assert depth.runs[0].learning_rate.relative_to_critical == 0.5


CNN_BAD = [
    ("sweeps.cnn_channel_sweep.axes.channels", [8, 33],
     "sweeps.cnn_channel_sweep (run linear_C33_s0): channels = 33 must be even with init_scheme 'antisymmetric'"),
    ("sweeps.cnn_channel_sweep.settings.pooling", "max",
     "sweeps.cnn_channel_sweep (run linear_C4_s0): pooling must be 'global_average' or 'flatten'"),
    ("sweeps.cnn_channel_sweep.settings.kernel_size", 4,
     "(run linear_C4_s0): kernel_size = 4 must be odd"),
    ("sweeps.cnn_bottleneck_sweep.settings.depth", 2,
     "sweeps.cnn_bottleneck_sweep (run Cb2_C128_s0): bottleneck_channels needs depth >= 3"),
    ("sweeps.resnet_channel_sweep.settings.width", 8,
     "sweeps.resnet_channel_sweep.settings.width: not a setting of family 'resnet'"),
    ("sweeps.cnn_channel_sweep.axes.channels", [8, "32"],
     "sweeps.cnn_channel_sweep.axes.channels[1] = '32': must be a valid integer"),
    ("images.smoothness", 0.0, "images.smoothness = 0.0: must be greater than 0"),
    ("hessian.probe_index", 20, "hessian.probe_index = 20: must be below images.n_samples = 8"),
]


@pytest.mark.parametrize(("dotted", "value", "message"), CNN_BAD, ids=[f"{d}={v!r}" for d, v, _ in CNN_BAD])
def test_bad_convolutional_settings_give_one_line(base, dotted, value, message):
    with pytest.raises(ParameterError) as error:
        validate_parameters(_with(base, dotted, value))
    text = str(error.value)
    assert "\n" not in text and message in text


def test_convolutional_sweeps_read_the_images_and_name_runs_by_channels(base):
    experiment = validate_parameters(base)
    sweeps = {sweep.name: sweep for sweep in experiment.sweeps}
    cnn_sweep, bottleneck = sweeps["cnn_channel_sweep"], sweeps["cnn_bottleneck_sweep"]
    assert cnn_sweep.dataset == sweeps["resnet_channel_sweep"].dataset == "synthetic_images"
    assert sweeps["width_sweep"].dataset == "synthetic_data"
    assert cnn_sweep.runs[0].namespace == "cnn_channel_sweep.linear_C4_s0"
    assert {run.architecture for run in cnn_sweep.runs} == {"cnn_linear_output", "cnn_swish_output",
                                                           "cnn_softmax_output"}
    assert bottleneck.runs[0].namespace == "cnn_bottleneck_sweep.Cb2_C128_s0"
    assert bottleneck.runs[0].model.layer_channels == (128, 2, 128)


def test_kedro_run_exits_with_the_one_line_error_and_leaves_data_alone(tmp_path):
    project = make_project(tmp_path)
    previous = project / "data" / "01_raw" / "synthetic_data.npz"
    previous.write_bytes(b"a previous run's data")
    report = project / "data" / "08_reporting" / "runs.csv"
    report.write_text("namespace\n")
    before = data_files(project)

    process = kedro_cli(project, "run", "--env", "tiny",
                        "--params", "training.max_steps=0,training.on_divergence=ignore")
    assert process.wait(timeout=120) == 1
    output = (project / "kedro.log").read_text()
    assert ("Error: invalid parameters: training.max_steps = 0: must be greater than 0; "
            "training.on_divergence = 'ignore': must be 'raise' or 'skip'\n") in output
    assert "Traceback" not in output
    assert data_files(project) == before
    assert previous.read_bytes() == b"a previous run's data" and report.read_text() == "namespace\n"


LR = "sweeps.lr_sweep"
LR_BAD = [
    (f"{LR}.axes.eta_lambda0", [0.5, -2.6], f"{LR}.axes.eta_lambda0[1] = -2.6: must be greater than 0"),
    (f"{LR}.axes.eta_lambda0", [0.5, "2.6"], f"{LR}.axes.eta_lambda0[1] = '2.6': must be a valid number"),
    (f"{LR}.axes.eta_lambda0", [2.6, 2.6], f"{LR}.axes.eta_lambda0 = [2.6, 2.6]: must not repeat a value"),
    (f"{LR}.settings.learning_rate", 1.0, f"{LR}: set the step size by learning_rate or by eta_lambda0, not both"),
    (f"{LR}.training.on_divergence", "ignore", f"{LR}.training.on_divergence = 'ignore': must be 'raise' or 'skip'"),
    (f"{LR}.training.divergence_factor", 0.5, f"{LR}.training.divergence_factor = 0.5: must be greater than 1"),
    (f"{LR}.training.on_divergense", "skip",
     f"{LR}.training.on_divergense: not a training setting (did you mean 'on_divergence'?)"),
]


@pytest.mark.parametrize(("dotted", "value", "message"), LR_BAD, ids=[f"{d}={v!r}" for d, v, _ in LR_BAD])
def test_bad_step_size_and_sweep_training_settings_give_one_line(base, dotted, value, message):
    with pytest.raises(ParameterError) as error:
        validate_parameters(_with(base, dotted, value))
    text = str(error.value)
    assert "\n" not in text and message in text


def test_a_sweep_needs_one_step_size(base):
    parameters = copy.deepcopy(base)
    del parameters["sweeps"]["lr_sweep"]["axes"]["eta_lambda0"]
    with pytest.raises(ParameterError, match=r"sweeps\.lr_sweep: learning_rate \(or eta_lambda0\) must be set"):
        validate_parameters(parameters)


def test_eta_lambda0_names_runs_and_sets_the_relative_learning_rate(base):
    experiment = validate_parameters(base)
    sweeps = {sweep.name: sweep for sweep in experiment.sweeps}
    lr = sweeps["lr_sweep"]
    assert [run.namespace for run in lr.runs[:3]] == [
        "lr_sweep.el0p5_m100_s0", "lr_sweep.el0p5_m10000_s0", "lr_sweep.el1p5_m100_s0"]
    run = next(run for run in lr.runs if run.name == "el2p6_m10000_s0")
    # eta lambda_0 = 2.6 is relative_to_critical 1.3: eta = 1.3 * 2 / lambda_0
    assert run.learning_rate.relative_to_critical == 1.3 and run.group == "el2p6"
    assert run.architecture == "linear_output_lr"
    # the sweep's training settings replace those of the `training` group for its runs only
    assert run.training.on_divergence == "skip" and run.training.divergence_factor == 1e12
    assert run.training.max_steps == base["training"]["max_steps"]
    assert sweeps["width_sweep"].runs[0].training.on_divergence == base["training"]["on_divergence"]
    # as a fixed setting, eta_lambda0 is the same run as the relative learning rate it stands for
    fixed = _with(_with(base, "sweeps.depth_sweep.settings", {"head": "linear", "eta_lambda0": 1.0}),
                  "sweeps.lr_sweep.axes.eta_lambda0", [0.5])
    depth = next(s for s in validate_parameters(fixed).sweeps if s.name == "depth_sweep")
    reference = next(s for s in experiment.sweeps if s.name == "depth_sweep")
    assert [r.learning_rate for r in depth.runs] == [r.learning_rate for r in reference.runs]


def test_a_session_validates_its_parameters_once(monkeypatch):
    """``register_pipelines`` and the hooks share one validation per Kedro session (per recorded config
    loader); a new session (a new loader) validates again."""
    from ntk_linearity.experiment import config, parameters

    calls = []
    real = parameters.validate_parameters
    monkeypatch.setattr(parameters, "validate_parameters", lambda p: calls.append(1) or real(p))
    try:
        config.set_active_config_loader(default_config_loader("base"))
        first = parameters.session_experiment()
        assert parameters.session_experiment() is first and len(calls) == 1
        config.set_active_config_loader(default_config_loader("base"))
        assert parameters.session_experiment() is not first and len(calls) == 2
    finally:
        config.set_active_config_loader(None)


D = "sweeps.digits_width_sweep"
DIGITS_BAD = [
    (f"{D}.source", "digit", f"{D}.source = 'digit': must be one of ['synthetic', 'digits'] (did you mean 'digits'?)"),
    (f"{D}.sorce", "digits", f"{D}.sorce = 'digits': not a known parameter (did you mean 'source'?)"),
    ("digits.n_samples", 1798, "digits.n_samples = 1798: must be less than or equal to 1797"),
    ("digits.n_samples", 0, "digits.n_samples = 0: must be greater than 0"),
    ("digits.preprocessing", "whiten", "digits.preprocessing = 'whiten': must be 'centred_sphere' or 'raw'"),
    ("digits.label_smoothing", 1.0, "digits.label_smoothing = 1.0: must be less than 1"),
    ("digits.n_sample", 64, "digits.n_sample = 64: not a known parameter (did you mean 'n_samples'?)"),
    ("hessian.probe_index", 64, "hessian.probe_index = 64: must be below digits.n_samples = 64"),
]


@pytest.mark.parametrize(("dotted", "value", "message"), DIGITS_BAD, ids=[f"{d}={v!r}" for d, v, _ in DIGITS_BAD])
def test_bad_data_source_settings_give_one_line(base, dotted, value, message):
    with pytest.raises(ParameterError) as error:
        validate_parameters(_with(_with(base, "digits.n_samples", 64), dotted, value))
    text = str(error.value)
    assert "\n" not in text and text.startswith("invalid parameters: ") and message in text


def test_a_sweep_chooses_its_data_source(base):
    experiment = validate_parameters(base)
    sweeps = {sweep.name: sweep for sweep in experiment.sweeps}
    assert sweeps["digits_width_sweep"].dataset == "digits" and sweeps["width_sweep"].dataset == "synthetic_data"
    assert {run.dataset for run in sweeps["digits_width_sweep"].runs} == {"digits"}
    cnn = _with(base, "sweeps.cnn_channel_sweep.source", "digits")  # images of the digits: 8 x 8 x 1
    assert next(s for s in validate_parameters(cnn).sweeps if s.name == "cnn_channel_sweep").dataset == "digits"
    assert experiment.data_settings["digits"]["provenance"]["scikit_learn"]  # in every digits run's fingerprint


def test_a_family_the_source_cannot_feed_is_refused(base, monkeypatch):
    from ntk_linearity.experiment import families, sweeps

    vectors_only = dict(families.SOURCES) | {"tabular": {families.VECTOR_INPUTS: families.DIGITS}}
    monkeypatch.setattr(sweeps, "SOURCES", vectors_only)
    with pytest.raises(ParameterError) as error:
        validate_parameters(_with(base, "sweeps.cnn_channel_sweep.source", "tabular"))
    assert str(error.value) == ("invalid parameters: sweeps.cnn_channel_sweep.source = 'tabular': family 'cnn' "
                                "takes images, which source 'tabular' does not offer (it offers vectors)")
