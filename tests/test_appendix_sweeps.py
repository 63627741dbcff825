"""The sweeps of the paper's Appendix A (output scaling) and B (parameterisation): their settings,
axes and run names, nested architecture lookups, what validation refuses, and the report's statements
and figures on tables whose slopes are known beforehand."""

from __future__ import annotations

import copy

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from ntk_linearity.experiment.families import MlpSettings
from ntk_linearity.pipelines import schema
from ntk_linearity.pipelines.reporting import tables
from ntk_linearity.pipelines.reporting.figures import appendices as appendix_figures
from ntk_linearity.pipelines.reporting.statements import appendices as appendix_statements
from ntk_linearity.experiment.parameters import ParameterError, validate_parameters
from ntk_linearity.experiment.config import default_config_loader
from ntk_linearity.experiment.vocabulary import AXES, axis_token


@pytest.fixture(scope="module")
def base() -> dict:
    return default_config_loader()["parameters"]


def test_settings_default_to_the_papers_network_and_check_their_values():
    settings = MlpSettings(activation="tanh", train_last_layer=True, init_scheme="iid", dtype="float32",
                           width=8, head="linear")
    assert (settings.parameterization, settings.output_scale) == ("ntk", 1.0)
    for bad in ({"parameterization": "lecun"}, {"output_scale": 0.0}, {"output_scale": float("nan")}):
        with pytest.raises(ValueError):
            MlpSettings.model_validate(settings.model_dump() | bad)
    assert axis_token("output_scale", 10) == "a10" and axis_token("parameterization", "standard") == "standard"
    assert {"parameterization", "output_scale"} <= set(schema.RUN_COLUMNS) <= set(schema.RUN_COLUMNS) | set(AXES)


def test_conf_base_sweeps_resolve_nested_lookups_and_name_their_runs(base):
    experiment = validate_parameters(base)
    sweeps = {sweep.name: sweep for sweep in experiment.sweeps}
    runs = {run.name: run for run in sweeps["parameterization_sweep"].runs}
    assert runs["standard_swish_m1000_s0"].architecture == "swish_output_standard"
    assert runs["ntk_linear_m100_s0"].architecture == "linear_output_ntk"
    assert runs["standard_swish_m1000_s0"].group == "standard_swish"
    assert runs["standard_swish_m1000_s0"].model.parameterization == "standard"
    scaled = {run.name: run for run in sweeps["output_scale_sweep"].runs}
    assert scaled["softmax_m1000_a100_s0"].output_scale == 100.0
    assert scaled["softmax_m1000_a100_s0"].architecture == "lazy_softmax_output"
    assert all(run.output_scale == 1.0 for run in sweeps["width_sweep"].runs)  # alpha = 1: the width sweep
    assert "output scale 100" in scaled["softmax_m1000_a100_s0"].describe()


def test_a_nested_lookup_missing_a_value_and_the_kl_loss_of_a_scaled_softmax_are_refused(base):
    params = copy.deepcopy(base)
    lookup = params["sweeps"]["parameterization_sweep"]["architecture"]
    del lookup["values"]["standard"]["values"]["swish"]
    with pytest.raises(ParameterError, match=r"architecture\.values\.standard\.values: no value for head = 'swish'"):
        validate_parameters(params)
    params = copy.deepcopy(base)
    params["training"]["softmax_loss"] = "kl"
    with pytest.raises(ParameterError, match=r"softmax_loss = 'kl': must be 'square' .*output_scale_sweep"):
        validate_parameters(params)


# ---------------------------------------------------------------------------------------------
# Statements and figures on tables with known slopes
# ---------------------------------------------------------------------------------------------

REPORTING = type("Reporting", (), {"slope_ci_method": "regression", "confidence": 0.95, "linearity_threshold": 0.1})()
EXPONENTS = {  # (parameterisation, head) -> exponents of delta_k, ratio, ntk_diag, hessian_norm against m
    ("ntk", "linear"): (-1.0, -0.5, 0.0, -0.5), ("standard", "linear"): (-2.0, -1.0, 1.0, 0.0),
    ("ntk", "swish"): (0.0, 0.0, 0.0, 0.0), ("standard", "swish"): (0.0, 0.0, 1.0, 1.0),
}


def _row(**values) -> dict:
    return {"diverged": False, "converged": True, "weight_change_l2": 1.0, **values}


def _parameterization_runs(noise: float = 0.01) -> pd.DataFrame:
    rows = []
    for (p, head), (dk, ratio, diag, hessian) in EXPONENTS.items():
        for m in (100, 1000, 10000):
            for seed in (0, 1):
                wiggle = 1 + noise * (seed - 0.5) * (1 + np.log10(m))
                rows.append(_row(sweep="param", group=f"{p}_{head}", architecture=f"{head}_output_{p}", head=head,
                                 parameterization=p, width=m, seed=seed, output_scale=1.0,
                                 delta_k=0.5 * m**dk * wiggle, hessian_ratio_init=2 * m**ratio * wiggle,
                                 ntk_diag_init=m**diag * wiggle, hessian_norm_init=m**hessian * wiggle))
    return pd.DataFrame(rows)


def _scaling(runs: pd.DataFrame, fit_against: str) -> pd.DataFrame:
    return tables.sweep_scaling(runs.reindex(columns=schema.RUN_COLUMNS), sweep=runs["sweep"].iloc[0],
                                fit_against=fit_against, reporting_params=REPORTING)


def test_parameterization_statement_compares_the_slopes_between_the_parameterisations():
    runs = _parameterization_runs()
    text = appendix_statements.parameterization_statement(runs, _scaling(runs, "width"), ["param"], 0.95)
    linear = next(line for line in text.splitlines() if line.startswith("- **linear output**"))
    swish = next(line for line in text.splitlines() if line.startswith("- **swish output**"))
    assert "ΔK NTK −1.00" in linear and "standard −2.00" in linear  # the exponents put in
    assert linear.count("they **differ**") == 2  # ΔK and the ratio: -1 vs -2, -0.5 vs -1
    assert swish.count("they **agree**") == 2  # equal slopes (0 and 0)
    assert "median ‖H‖/K(x, x) at m = 10000: 0.02 (NTK), 0.0002 (standard)" in linear
    assert "The paper's conclusion holds in both parameterisations" in text
    # Flip: the standard network's linear-head ΔK no longer falls, so the conclusion changes.
    flat = runs.assign(delta_k=np.where(runs["group"] == "standard_linear", 0.5, runs["delta_k"]))
    assert "The conclusion changes with the parameterisation" in appendix_statements.parameterization_statement(
        flat, _scaling(flat, "width"), ["param"], 0.95)
    assert appendix_statements.parameterization_statement(runs, _scaling(runs, "width"), [], 0.95).startswith("No sweep")


def _scaled_runs(exponent: float = -1.0) -> pd.DataFrame:
    rows = [_row(sweep="lazy", group=head, architecture=f"lazy_{head}_output", head=head, width=1000, seed=seed,
                 output_scale=float(alpha), delta_k=0.6 * alpha**exponent * (1 + 0.01 * seed),
                 weight_change_l2=3.0 / alpha * (1 + 0.01 * seed), hessian_ratio_init=2.0 / alpha,
                 parameterization="ntk")
            for head in ("swish", "softmax") for alpha in (1, 10, 100) for seed in (0, 1)]
    return pd.DataFrame(rows)


def _width_runs() -> pd.DataFrame:
    rows = [_row(sweep="width_sweep", group=head, architecture=f"{head}_output", head=head, width=m, seed=seed,
                 output_scale=1.0, delta_k=(0.01 * m**-0.5 if head == "linear" else 0.6) * (1 + 0.01 * seed),
                 weight_change_l2=1.3 * (1 + 0.01 * seed), hessian_norm_init=m**-0.5, ntk_diag_init=1.0,
                 weight_change_linf=m**-0.5, parameterization="ntk")
            for head in ("linear", "swish", "softmax") for m in (30, 1000, 30000) for seed in (0, 1)]
    return pd.DataFrame(rows)


def test_output_scaling_statement_separates_scaling_from_width():
    scaled, widened = _scaled_runs(), _width_runs()
    runs = pd.concat([scaled, widened], ignore_index=True)
    table1 = tables.scaling_table(runs.reindex(columns=schema.RUN_COLUMNS), reporting_params=REPORTING)
    text = appendix_statements.output_scaling_statement(runs, _scaling(scaled, "output_scale"), table1, ["lazy"], 0.95)
    assert "median ΔK goes from 0.603 at α = 1 to 0.00603 at α = 100 (slope −1.00" in text
    assert text.count(": falls)") == 3  # both scaled heads, and the linear output against width
    assert "the paper's Section 4 argument holds on this grid" in text
    # Flip: a scaled kernel that does not freeze with alpha breaks the argument.
    stiff = _scaled_runs(exponent=0.0)
    runs = pd.concat([stiff, widened], ignore_index=True)
    text = appendix_statements.output_scaling_statement(runs, _scaling(stiff, "output_scale"), table1, ["lazy"], 0.95)
    assert "do not separate the two effects" in text


def test_figures_draw_every_group_and_say_when_nothing_is_there():
    runs = _parameterization_runs()
    fig = appendix_figures.parameterization_figure(runs, _scaling(runs, "width"), sweeps=["param"])
    styles = {line.get_linestyle() for ax in fig.axes for line in ax.lines if line.get_label()[0] != "_"}
    assert styles == {"-", "--"} and all(len(ax.get_legend().get_texts()) == 4 for ax in fig.axes)
    plt.close(fig)
    scaled, widened = _scaled_runs(), _width_runs()
    everything = pd.concat([scaled, widened], ignore_index=True)
    table1 = tables.scaling_table(everything.reindex(columns=schema.RUN_COLUMNS), reporting_params=REPORTING)
    fig = appendix_figures.output_scaling_figure(everything, _scaling(scaled, "output_scale"), table1, sweeps=["lazy"])
    assert [len(ax.get_legend().get_texts()) for ax in fig.axes] == [2, 3, 2, 3]
    plt.close(fig)
    fig = appendix_figures.parameterization_figure(runs, _scaling(runs, "width"), sweeps=[])
    assert {text.get_text() for ax in fig.axes for text in ax.texts} == {"no usable runs"}
    plt.close(fig)
