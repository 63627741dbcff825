"""The default pipeline end to end (the experiments of docs/experiments.md as Kedro pipelines)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ntk_linearity.experiment.vocabulary import TABLE1_QUANTITIES
from ntk_linearity.pipelines.reporting.tables import TABLE1_COLUMNS
from ntk_linearity.pipelines.schema import RUN_COLUMNS

from kedro_project_utils import N_SMALL_APPENDIX_RUNS, N_SMALL_DIGITS_RUNS, N_SMALL_LR_RUNS, TINY, latest, run_kedro, sweep_grid, write_env

FIGURES = [
    "fig1_delta_k_vs_width.png", "fig1_delta_k_vs_time.png", "fig2_delta_k_vs_bottleneck.png",
    "hessian_scaling.png", "weight_change_norms.png", "loss_curves.png", "parameterization.png",
    "output_scaling.png",
]


def test_tiny_default_chain_writes_every_output(tiny_project):
    kedro_project = tiny_project  # `kedro run --env tiny`, once per test session
    reporting = kedro_project / "data" / "08_reporting"
    runs = pd.read_csv(latest(reporting / "runs.csv"))
    # width, bottleneck, depth, CNN, ResNet, channel bottleneck, step size, parameterisation, output scale, digits
    n_runs = 3 * 2 * 2 + 2 + 2 * 2 + 2 + 1 + 1 + N_SMALL_LR_RUNS + N_SMALL_APPENDIX_RUNS + N_SMALL_DIGITS_RUNS
    assert list(runs.columns) == RUN_COLUMNS and len(runs) == n_runs
    numeric = ["delta_k", "delta_k_noise_floor", "hessian_norm_init", "hessian_norm_final",
               "ntk_diag_init", "weight_change_l2", "weight_change_linf", "final_loss", "wall_seconds"]
    assert np.all(np.isfinite(runs[numeric].to_numpy(float)))
    assert set(runs["architecture"]) == {"linear_output", "swish_output", "softmax_output", "bottleneck",
                                         "deep_linear_output", "cnn_linear_output", "resnet_linear_output",
                                         "cnn_bottleneck", "linear_output_lr", "linear_output_ntk",
                                         "linear_output_standard", "lazy_swish_output", "digits_linear_output"}
    # how each run's ||H|| was computed: the closed form for one hidden layer, the layer subspace for a
    # deeper mlp, full Lanczos for the convolutional and residual networks
    method = runs.set_index("namespace")["hessian_method"]
    assert set(method[runs["sweep"].eq("width_sweep").to_numpy()]) == {"closed_form"}
    assert set(method[runs["sweep"].eq("bottleneck_sweep").to_numpy()]) == {"subspace_lanczos"}
    assert set(method[runs["family"].isin(["cnn", "resnet"]).to_numpy()]) == {"lanczos"}
    conv = runs[runs["sweep"] == "cnn_channel_sweep"]
    assert conv["channels"].tolist() == [4, 8] and conv["width"].isna().all()  # the swept channel count
    # eta * lambda_0 of every run, whichever way eta was set; the depth sweep's is set to 0.5 x 2
    assert np.allclose(runs["eta_lambda0"], runs["learning_rate"] * runs["lambda0"])
    assert np.allclose(runs.loc[runs["sweep"] == "depth_sweep", "eta_lambda0"], 1.0)
    assert set(runs.loc[runs["sweep"] == "depth_sweep", "depth"]) == {1, 2}
    # Appendix A: the objective is L / alpha^2, so lambda_0 (of that objective), eta and L(w_0) (the fit of
    # y - f(w_0), not divided) are those of the unscaled network at every alpha; K(x, x) scales by alpha^2.
    scaled = runs[runs["sweep"] == "output_scale_sweep"].set_index("output_scale")
    assert np.allclose(scaled.loc[10, ["lambda0", "learning_rate", "initial_loss"]].to_numpy(float),
                       scaled.loc[1, ["lambda0", "learning_rate", "initial_loss"]].to_numpy(float), rtol=1e-4)
    assert scaled.loc[10, "ntk_diag_init"] == pytest.approx(100 * scaled.loc[1, "ntk_diag_init"], rel=1e-4)
    # Appendix B: the same functions at w_0 (the same loss), K(x, x) multiplied by about the fan-in
    parameterized = runs[runs["sweep"] == "parameterization_sweep"].set_index(["parameterization", "width"])
    assert np.allclose(parameterized.loc["standard", "initial_loss"], parameterized.loc["ntk", "initial_loss"],
                       rtol=1e-4)
    assert np.all(parameterized.loc["standard", "ntk_diag_init"] > parameterized.loc["ntk", "ntk_diag_init"])
    scaling = pd.read_csv(latest(reporting / "scaling.csv"))
    sweeps = tuple(TINY["sweeps"])
    assert set(scaling["sweep"]) == set(sweeps)
    assert set(scaling.loc[scaling["sweep"] == "depth_sweep", "group"]) == {"L1", "L2"}
    assert set(scaling.loc[scaling["sweep"] == "cnn_channel_sweep", "fit_against"]) == {"channels"}
    for sweep in sweeps:
        assert latest(reporting / sweep / "scaling.png").read_bytes()[:4] == b"\x89PNG"

    table = pd.read_csv(latest(reporting / "table1_scaling.csv"))
    assert list(table.columns) == TABLE1_COLUMNS
    assert np.all(np.isfinite(table["slope"]))
    assert set(table["quantity"]) == set(TABLE1_QUANTITIES)
    markdown = latest(reporting / "table1.md").read_text()
    assert "transition to linearity" in markdown and "| linear_output |" in markdown
    assert "with 95% intervals (" in markdown  # the configured confidence, formatted
    assert "| deep, linear output, L2 (depth_sweep; Theorem 3.2, beyond the paper's Section 6) |" in markdown
    assert ("| CNN, linear output (cnn_channel_sweep; the paper's claim, Theorem 3.1, Appendix H) "
            "| O~(1/sqrt C) |") in markdown
    for figure in FIGURES:
        png = latest(reporting / figure)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    run_dir = kedro_project / "data" / "07_model_output" / "width_sweep" / "linear_m32_s0"
    metrics = json.loads((run_dir / "training_metrics.json").read_text())
    history = np.load(run_dir / "training_history.npz")
    assert metrics["delta_k"] == pytest.approx(history["delta_k"].max())
    curves = pd.read_csv(latest(reporting / "training_curves.csv"))
    delta_k = curves[(curves["namespace"] == "width_sweep.linear_m32_s0") & (curves["curve"] == "delta_k")]
    assert delta_k["value"].tolist() == history["delta_k"].astype(float).tolist()  # gathered from the history
    assert delta_k["step"].tolist() == history["snapshot_steps"].tolist()
    assert (kedro_project / "data" / "06_models" / "bottleneck_sweep" / "mb4_m16_s0" / "final_params.npz").exists()


@pytest.mark.slow
def test_linear_head_kernel_freezes_with_width_but_swish_does_not(kedro_project):
    """A small but real sweep: Delta K falls with width for the linear head only (Fig. 1 left)."""
    write_env(kedro_project, "small", {
        "sweeps": sweep_grid(width_sweep={"head": ["linear", "swish"], "width": [32, 256, 2048], "seed": [0, 1]},
                             bottleneck_sweep={"bottleneck_width": [4], "width": [32], "seed": [0]},
                             depth_sweep={"depth": [2], "width": [32], "seed": [0]}),
        "training": {"max_steps": 5000, "tol": 1.0e-5, "n_snapshots": 8},
        "hessian": {"lanczos_steps": 24},
        "reporting": {"time_curve_width": 2048},
    })
    run_kedro(kedro_project, env="small")
    runs = pd.read_csv(latest(kedro_project / "data" / "08_reporting" / "runs.csv"))
    assert runs.loc[runs["sweep"] == "width_sweep", "converged"].all()
    medians = runs[runs["sweep"] == "width_sweep"].groupby(["head", "width"])["delta_k"].median()
    linear, swish = medians["linear"], medians["swish"]
    assert linear[2048] < linear[256] < linear[32]
    assert linear[2048] < 0.05 * linear[32]  # two decades of width: at least a 20-fold drop
    assert swish[2048] > 0.5 * swish[32] and swish[2048] > 0.2  # stays Theta(1)
