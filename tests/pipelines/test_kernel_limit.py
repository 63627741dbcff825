"""A run's K(w_0) against the infinite-width kernel Theta (runs.csv's kernel_deviation_init, kernel_limit)."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from ntk_linearity.experiment.config import default_config_loader
from ntk_linearity.experiment.parameters import validate_parameters
from ntk_linearity.experiment.vocabulary import ARCHITECTURES
from ntk_linearity.numerics import empirical_ntk
from ntk_linearity.pipelines.schema import RUN_COLUMNS
from ntk_linearity.pipelines.sweep.kernel_limit import (
    DERIVED,
    KERNEL_LIMIT_COLUMNS,
    kernel_limit_metrics,
    kernel_limit_reason,
)


@pytest.fixture(scope="module")
def experiment():
    return validate_parameters(default_config_loader()["parameters"])


def test_theta_is_derived_exactly_where_the_vocabulary_states_a_theory_slope(experiment):
    """Two sources that must agree: the numerics' rule for where Theta exists and the architectures whose
    theory has a slope for the kernel deviation."""
    for run in experiment.runs:
        has_theory = "kernel_deviation" in ARCHITECTURES[run.architecture].theory
        reason = kernel_limit_reason(run)
        assert (reason == DERIVED) == has_theory, (run.namespace, reason)
        assert reason == DERIVED or reason.startswith("not derived: ")
    assert set(KERNEL_LIMIT_COLUMNS) <= set(RUN_COLUMNS)


def _data(n: int, d: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X *= np.sqrt(d) / np.linalg.norm(X, axis=1, keepdims=True)
    return {"X": X.astype(np.float32), "y": np.zeros((n, 1), np.float32)}


def _deviation(run, width: int, data: dict, seed: int) -> dict:
    run = dataclasses.replace(run, model=run.model.model_copy(update={"width": width}))
    model = run.build(data)
    params0 = model.init(jax.random.key(seed))
    kernel0 = np.asarray(empirical_ntk(model.apply, params0, data["X"]))
    return kernel_limit_metrics(run, model, data["X"], kernel0)


def test_the_deviation_falls_like_one_over_root_width(experiment):
    """K(w_0) averages m i.i.d. neuron terms whose mean is Theta: over seeds, the deviation at 16x the
    width is about a quarter of it (-1/2 in the exponent), and it is NaN with a reason where not derived."""
    by_arch = {run.architecture: run for run in experiment.runs if run.sweep == "width_sweep"}
    data = _data(12, experiment.parameters.data.input_dim)
    narrow = np.mean([_deviation(by_arch["linear_output"], 64, data, s)["kernel_deviation_init"] for s in range(6)])
    wide = np.mean([_deviation(by_arch["linear_output"], 1024, data, s)["kernel_deviation_init"] for s in range(6)])
    assert 0.15 < wide / narrow < 0.4, (narrow, wide)
    softmax = kernel_limit_reason(by_arch["softmax_output"])
    assert softmax.startswith("not derived: non-linear head")
