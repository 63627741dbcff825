"""A diverging run either stops the sweep naming the run, or with ``on_divergence: skip`` is marked in
runs.csv, Table 1 and the figures while the sweep goes on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ntk_linearity.numerics import DivergenceError

from kedro_project_utils import MINI, N_SMALL_RUNS, latest, make_project, run_kedro, sweep_grid, write_env

# Every swish-head run diverges at once; the linear head and the bottleneck network train normally.
DIVERGING = MINI | {
    "sweeps": sweep_grid(width_sweep={"head": ["linear", "swish"], "width": [8, 16], "seed": [0]},
                         bottleneck_sweep={"bottleneck_width": [2], "width": [8], "seed": [0]},
                         depth_sweep={"depth": [2], "width": [8], "seed": [0]})
    | {"width_sweep": {"axes": {"head": ["linear", "swish"], "width": [8, 16], "seed": [0]},
                       "settings": {"eta_lambda0": {"by": "head", "values": {"linear": 1.5, "swish": 1.0e6}}}}},
    "training": MINI["training"] | {"on_divergence": "raise"},
}
SKIPPING = DIVERGING | {"training": DIVERGING["training"] | {"on_divergence": "skip"}}
SWISH_RUNS = ["width_sweep.swish_m8_s0", "width_sweep.swish_m16_s0"]


@pytest.fixture(scope="module")
def skipped(tmp_path_factory):
    """A whole run of the default pipeline with ``on_divergence: skip``."""
    project = make_project(tmp_path_factory.mktemp("skip"))
    write_env(project, "skipping", SKIPPING)
    run_kedro(project, env="skipping")
    return project


def test_raise_stops_at_the_diverging_run_and_names_it(tmp_path):
    project = make_project(tmp_path)
    write_env(project, "diverging", DIVERGING)
    with pytest.raises(DivergenceError) as error:
        run_kedro(project, env="diverging", to_nodes=["sweeps.width_sweep.swish.swish_m16_s0.train_network"])
    message = str(error.value)  # eta = 1e6 / lambda_0
    assert message.startswith("run width_sweep.swish_m16_s0 (widths 16, head swish, seed 0, learning_rate ")
    assert "): gradient descent diverged at step" in message
    run_dir = project / "data" / "07_model_output" / "width_sweep" / "swish_m16_s0"
    assert not (run_dir / "training_metrics.json").exists()


@pytest.mark.slow  # a Kedro run of its own; the report's diverged states are unit-tested
def test_skip_marks_diverged_runs_and_the_sweep_goes_on(skipped):
    runs = pd.read_csv(latest(skipped / "data" / "08_reporting" / "runs.csv"))
    assert len(runs) == 6 + N_SMALL_RUNS
    diverged = runs[runs["diverged"]]
    assert set(diverged["namespace"]) == set(SWISH_RUNS)
    for _, run in diverged.iterrows():
        assert run["error"].startswith(f"run {run['namespace']} (widths {int(run['width'])}, head swish, seed 0, "
                                       "learning_rate ")
        assert "): gradient descent diverged" in run["error"]
        assert np.isnan(run["delta_k"])
    trained = runs[~runs["diverged"]]
    assert set(trained["architecture"]) == {"linear_output", "bottleneck", "deep_linear_output", "cnn_linear_output",
                                            "resnet_linear_output", "cnn_bottleneck", "linear_output_lr",
                                            "linear_output_ntk", "linear_output_standard", "lazy_swish_output",
                                            "digits_linear_output"}
    assert np.all(np.isfinite(trained[["delta_k", "hessian_norm_init", "final_loss"]].to_numpy(float)))


@pytest.mark.slow  # a Kedro run of its own; the report's diverged states are unit-tested
def test_scaling_fits_and_table1_leave_diverged_runs_out(skipped):
    reporting = skipped / "data" / "08_reporting"
    table = pd.read_csv(latest(reporting / "table1_scaling.csv"))
    assert "swish_output" not in set(table["architecture"])
    assert np.isfinite(table.loc[table["architecture"] == "linear_output", "slope"]).all()
    markdown = latest(reporting / "table1.md").read_text()
    assert (f"**2 of {6 + N_SMALL_RUNS} runs diverged** and are left out of every fit and verdict (their errors are in the "
            "`error` column of runs.csv): width_sweep.swish_m8_s0, width_sweep.swish_m16_s0.") in markdown
    assert "- **swish_output**: cannot tell (no usable runs: every run diverged" in markdown
    for figure in ["fig1_delta_k_vs_width.png", "fig1_delta_k_vs_time.png", "loss_curves.png",
                   "hessian_scaling.png", "weight_change_norms.png", "fig2_delta_k_vs_bottleneck.png"]:
        assert latest(reporting / figure).read_bytes()[:4] == b"\x89PNG"
