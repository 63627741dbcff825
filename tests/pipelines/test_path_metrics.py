"""What a run records along its path (runs.csv, training_curves.csv): the catapult's observables and
Theorem 5.1's rate, against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from ntk_linearity.numerics import KernelSpectrum
from ntk_linearity.pipelines.schema import RUN_COLUMNS
from ntk_linearity.pipelines.sweep.nodes import (
    PATH_METRICS,
    eta_lambda0_of,
    learning_rate_of,
    path_metrics,
)
from ntk_linearity.pipelines.sweep.collect import run_curves
from ntk_linearity.experiment.parameters import validate_parameters
from ntk_linearity.experiment.config import default_config_loader


@pytest.fixture(scope="module")
def lr_runs():
    experiment = validate_parameters(default_config_loader()["parameters"])
    return {run.name: run for run in experiment.runs if run.sweep == "lr_sweep"}


def test_eta_lambda0_comes_back_as_written_and_sets_eta(lr_runs):
    run = lr_runs["el2p6_m10000_s0"]
    lambda0 = 0.37
    eta = learning_rate_of(run, lambda0)
    assert eta == pytest.approx(2.6 / lambda0, rel=1e-15)
    assert eta_lambda0_of(run, eta, lambda0) == 2.6  # exactly the axis value (runs.csv, grouping)


def test_path_metrics_of_a_catapult_and_of_a_linear_mode():
    eta, lam = 0.5, 0.02
    t = np.arange(301)
    decay = (1 - eta * lam) ** (2 * t)  # the slowest mode of a linear model
    spike = np.concatenate([[1.0, 3.0, 40.0, 2.0], 0.5 * decay[4:]])
    spectrum = KernelSpectrum(lambda_max=np.array([5.2, 4.1, 3.0]), lambda_min=np.array([0.03, lam, 0.025]))
    metrics = path_metrics(spike, spectrum, eta)
    assert set(metrics) == set(PATH_METRICS)
    assert metrics["loss_peak_ratio"] == 40.0
    assert metrics["eta_lambda_max_final"] == pytest.approx(1.5)  # 0.5 x 3.0, below 2 at the end
    assert metrics["lambda_min_path"] == lam and metrics["lambda_min_init"] == 0.03  # smallest, first
    assert metrics["loss_rate"] == pytest.approx(-2 * np.log(1 - eta * lam), rel=1e-9)
    # -2 ln(1 - x) / x for x = eta lambda = 0.01: about 2, the slowest linear mode's ratio
    assert metrics["loss_rate_over_eta_lambda_min"] == pytest.approx(-2 * np.log(0.99) / 0.01, rel=1e-9)
    assert path_metrics(decay, spectrum, eta)["loss_peak_ratio"] == 1.0  # never above L_0
    singular = KernelSpectrum(np.array([1.0]), np.array([-1e-9]))
    assert np.isnan(path_metrics(decay, singular, eta)["loss_rate_over_eta_lambda_min"])


def test_curves_hold_both_extreme_eigenvalues_at_every_snapshot():
    history = {"losses": np.array([1.0, 0.5, 0.25]), "snapshot_steps": np.array([0, 2]),
               "delta_k": np.array([0.0, 0.1]), "lambda_max": np.array([4.0, 3.0]),
               "lambda_min": np.array([0.2, 0.1])}
    curves = run_curves(history)
    assert [(c, s, v) for c, s, v in curves if c == "lambda_max"] == [("lambda_max", 0, 4.0), ("lambda_max", 2, 3.0)]
    assert [(c, s, v) for c, s, v in curves if c == "lambda_min"] == [("lambda_min", 0, 0.2), ("lambda_min", 2, 0.1)]
    empty = {key: np.zeros((0,)) for key in history}
    assert run_curves(empty) == []  # a diverged run has none


def test_runs_csv_has_each_new_column_once():
    for column in ("eta_lambda0", *PATH_METRICS):
        assert RUN_COLUMNS.count(column) == 1, column
