"""The `ball:` block of a sweep (Proposition 2.2): which runs get it, what it refuses, what enters a
run's fingerprint, and the sup of ||H|| in the ball that the tables fit."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from ntk_linearity.provenance.ledger import run_fingerprint
from ntk_linearity.provenance.ledger import BALL_FILE, RUN_FILES, run_files
from ntk_linearity.pipelines.reporting.tables import ball_scaling, ball_sups
from ntk_linearity.pipelines.schema import BALL_COLUMNS
from ntk_linearity.experiment.parameters import ParameterError, validate_parameters
from ntk_linearity.experiment.config import default_config_loader


@pytest.fixture(scope="module")
def base() -> dict:
    return copy.deepcopy(dict(default_config_loader("base")["parameters"]))


def _ball(parameters: dict, **changes) -> dict:
    changed = copy.deepcopy(parameters)
    changed["sweeps"]["width_sweep"]["ball"] |= changes
    return changed


def test_where_selects_the_runs_and_only_they_digest_a_ball_file(base):
    experiment = validate_parameters(_ball(base, where={"head": ["swish"], "width": [100, 1000], "seed": [1]}))
    width_sweep = experiment.sweeps[0]
    assert [run.name for run in width_sweep.ball_runs] == ["swish_m100_s1", "swish_m1000_s1"]
    assert run_files(width_sweep.ball_runs[0]) == (*RUN_FILES, BALL_FILE)
    assert all(run_files(run) == RUN_FILES for run in experiment.runs if run.ball is None)
    none = validate_parameters(_ball(base, where={"width": [12345]}))  # outside the grid: nothing
    assert not none.sweeps[0].ball_runs


@pytest.mark.parametrize(("changes", "message"), [
    ({"where": {"widht": [100]}}, "sweeps.width_sweep.ball.where.widht: not an axis of the sweep"),
    ({"where": {"width": ["100"]}}, "sweeps.width_sweep.ball.where.width[0] = '100': must be a valid integer"),
    ({"radii": []}, "sweeps.width_sweep.ball.radii"),
    ({"radii": [{"relative_to_path": -1.0}]}, "relative_to_path"),
    ({"segment_points": 1}, "segment_points"),
    ({"probes": 33}, "sweeps.width_sweep.ball.probes = 33: must be at most data.n_samples = 32"),
])
def test_bad_ball_settings_give_one_line(base, changes, message):
    with pytest.raises(ParameterError) as error:
        validate_parameters(_ball(base, **changes))
    assert "\n" not in str(error.value) and message in str(error.value)


def test_ball_needs_one_hidden_layer_mlp_runs(base):
    parameters = copy.deepcopy(base)
    parameters["sweeps"]["depth_sweep"]["ball"] = copy.deepcopy(base["sweeps"]["width_sweep"]["ball"]) | {"where": {}}
    with pytest.raises(ParameterError, match="the ball analysis needs one-hidden-layer mlp runs"):
        validate_parameters(parameters)


def test_fingerprint_holds_the_ball_settings_but_not_the_selection(base):
    def fingerprint(parameters):
        experiment = validate_parameters(parameters)
        run = next(r for r in experiment.runs if r.namespace == "width_sweep.linear_m100_s0")
        return run_fingerprint(run, experiment.data_settings[run.dataset])

    reference = fingerprint(base)
    assert fingerprint(_ball(base, directions=9)) != reference
    assert fingerprint(_ball(base, where={"head": ["linear"], "width": [100], "seed": [0]})) == reference
    without = copy.deepcopy(base)
    del without["sweeps"]["width_sweep"]["ball"]
    assert fingerprint(without) != reference  # a run without the analysis is another computation


def test_ball_sup_takes_the_path_points_inside_the_ball_and_fits_the_slope():
    """sup ||H|| at R is the largest of the ball samples at R and of the path points within R; on
    sups that follow c m^(-1/2) exactly the fitted slope is -1/2."""
    rows = []
    for width in (100, 1000, 10000):
        keys = {"namespace": f"s.linear_m{width}_s0", "sweep": "s", "architecture": "linear_output",
                "group": "linear", "head": "linear", "width": width, "seed": 0}
        scale = width ** -0.5
        rows += [keys | {"kind": "ball", "radius_label": "1 R*", "radius": 2.0, "direction": i, "distance": 2.0,
                         "hessian_sup": scale * (1 + 0.1 * i), "ratio": 0.01} for i in range(2)]
        rows += [keys | {"kind": "path", "radius_label": "R*", "radius": 2.0, "direction": -1, "distance": d,
                         "hessian_sup": scale * h, "ratio": 0.02} for d, h in ((1.0, 1.5), (3.0, 9.0))]
    ball = pd.DataFrame(rows).reindex(columns=BALL_COLUMNS)
    sups = ball_sups(ball)
    assert np.allclose(sups["hessian_sup"], 1.5 * np.array([100, 1000, 10000]) ** -0.5)  # 3.0 is outside R
    assert list(sups["ratio_max"]) == [0.02] * 3 and list(sups["n_points"]) == [3] * 3

    class Reporting:
        slope_ci_method, confidence = "regression", 0.95

    fits = ball_scaling(ball, sweep="s", fit_against="width", reporting_params=Reporting)
    assert list(fits["group"]) == ["linear, R = 1 R*"] and list(fits["quantity"]) == ["ball_hessian_sup"]
    assert fits["slope"].iloc[0] == pytest.approx(-0.5) and fits["theory_slope"].iloc[0] == -0.5
