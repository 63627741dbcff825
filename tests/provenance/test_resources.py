"""The memory estimate of a run and the check that refuses what cannot fit (ntk_linearity.provenance.resources)."""

from __future__ import annotations

import copy
import re

import jax
import numpy as np
import pytest

from ntk_linearity.numerics import mlp
from ntk_linearity.numerics.memory import peak_memory_bytes
from ntk_linearity.pipelines.data_generation.nodes import generate_synthetic_data
from ntk_linearity.experiment.parameters import validate_parameters
from ntk_linearity.provenance.resources import (
    MEMORY_LIMIT_ENV,
    ResourceError,
    USABLE_FRACTION,
    check_resources,
    parse_bytes,
    run_peak_memory,
)
from ntk_linearity.experiment.config import default_config_loader

MLP_SETTINGS = dict(activation="tanh", head="linear", train_last_layer=True, dtype="float32", init_scheme="iid",
                    parameterization="ntk", output_scale=1.0)


def test_estimate_of_a_shallow_network_counts_each_array_by_hand():
    d, m, n, steps, snapshots = 8, 100, 32, 5000, 24
    parts = peak_memory_bytes(mlp(d, [m], **MLP_SETTINGS), n, lanczos_steps=64, max_steps=steps, n_snapshots=snapshots)
    p = d * m + m  # W (d x m) and v (m x 1)
    assert parts == {
        "parameters": 4 * p * 4,
        "krylov_basis": 0,  # the closed form of ||H|| needs no Krylov basis
        "kernel_factors": (n * (d + m) + n * (m + 1) + n * n) * 4,
        "kernel_snapshots": snapshots * n * n * 4,
        "loss_array": (steps + 1) * 4,
    }


def test_estimate_of_a_deep_network_counts_the_krylov_basis_at_its_dtype():
    with jax.enable_x64(True):
        model = mlp(4, [10, 10], **MLP_SETTINGS | {"dtype": "float64"})
    p = 4 * 10 + 10 * 10 + 10
    assert model.n_params == p
    parts = peak_memory_bytes(model, 8, lanczos_steps=500, max_steps=10, n_snapshots=2)
    assert parts["krylov_basis"] == (p + 3) * p * 8  # steps capped at p, plus three work vectors
    assert parts["parameters"] == 4 * p * 8


@pytest.mark.parametrize(("text", "expected"), [("64GB", 64 * 2**30), ("512 mb", 512 * 2**20),
                                                 ("1000", 1000), ("1.5G", int(1.5 * 2**30))])
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


def test_parse_bytes_refuses_nonsense():
    with pytest.raises(ResourceError, match=MEMORY_LIMIT_ENV):
        parse_bytes("lots")


@pytest.fixture(scope="module")
def base_parameters() -> dict:
    return copy.deepcopy(dict(default_config_loader("base")["parameters"]))


def _experiment(base: dict, widths: list[int], max_steps: int = 100):
    parameters = copy.deepcopy(base)
    parameters["sweeps"] = {"width_sweep": parameters["sweeps"]["width_sweep"]}
    parameters["sweeps"]["width_sweep"]["axes"]["width"] = widths
    parameters["reporting"]["time_curve_width"] = widths[0]
    parameters["training"]["max_steps"] = max_steps
    experiment = validate_parameters(parameters)
    return experiment, generate_synthetic_data(data_params=experiment.parameters.data)


def test_a_grid_that_fits_passes(base_parameters, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1GB")
    experiment, data = _experiment(base_parameters, [16, 64])
    check_resources(experiment.runs, data)


def test_a_width_that_cannot_fit_is_refused_with_the_largest_that_does(base_parameters, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1GB")
    experiment, data = _experiment(base_parameters, [16, 10**9])
    with pytest.raises(ResourceError) as refused:
        check_resources(experiment.runs, data)
    message = refused.value.message
    assert re.search(r"run width_sweep\.\w+_m1000000000_s\d needs about [0-9.]+ GB", message), message
    assert f"{MEMORY_LIMIT_ENV} is 0.8 GB" in message
    largest = int(re.search(r"width <= (\d+)", message)[1])
    run = next(r for r in experiment.runs if r.model.width == 10**9 and r.head == "softmax")
    limit = USABLE_FRACTION * 2**30

    def estimate(width):
        return sum(run_peak_memory(run, data, run.model.model_copy(update={"width": width})).values())

    assert estimate(largest) <= limit < estimate(largest + 2)


def test_a_loss_array_that_cannot_fit_is_refused_with_the_largest_step_count(base_parameters, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1GB")
    experiment, data = _experiment(base_parameters, [16], max_steps=2**31 - 1)  # the largest validation takes
    with pytest.raises(ResourceError, match=r"loss array 8 GB") as refused:
        check_resources(experiment.runs, data)
    steps = int(re.search(r"max_steps <= (\d+)", refused.value.message)[1])
    run = max(experiment.runs, key=lambda r: sum(run_peak_memory(r, data).values()))
    assert sum(run_peak_memory(run, data, max_steps=steps).values()) <= USABLE_FRACTION * 2**30
    assert sum(run_peak_memory(run, data, max_steps=steps + 2).values()) > USABLE_FRACTION * 2**30
    assert np.isclose(steps, USABLE_FRACTION * 2**30 / 4, rtol=1e-2)  # the loss array dominates
