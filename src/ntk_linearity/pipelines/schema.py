"""The schemas of the tables a sweep writes and reporting reads.

``runs.csv`` (:data:`RUN_COLUMNS`, one row per run, in :func:`sort_runs` order), the training curves
(:data:`CURVE_KEYS` + curve, step, value) and the ball table of Proposition 2.2
(:data:`BALL_COLUMNS`). The sweep pipelines write these tables and the reporting pipeline reads
them; both import the schema from here, so neither imports the other.
"""

from __future__ import annotations

import pandas as pd

from ntk_linearity.experiment.vocabulary import AXES, LINEARISATION_QUANTITIES, QUANTITIES

# The network against its linearisation at w_0 along the path, and against the linearised model trained
# alongside (numerics.linearisation): NaN for a diverged run, like every measurement
LINEARISATION_COLUMNS = tuple(QUANTITIES[quantity].column for quantity in LINEARISATION_QUANTITIES)
RUN_COLUMNS = [
    "namespace", "sweep", "architecture", "head", "width", "bottleneck_width", "seed",
    "learning_rate", "steps", "max_steps", "converged", "diverged", "initial_loss", "final_loss",
    "delta_k", "delta_k_final_float64", "delta_k_noise_floor", "kernel_float32_rounding",
    "hessian_norm_init", "hessian_norm_final", "hessian_residual_init", "hessian_residual_final",
    "ntk_diag_init", "ntk_diag_final", "weight_change_l2", "weight_change_linf", "n_params",
    "wall_seconds", "hessian_wall_seconds", "error",
    # Added with the experiment model: the run's family and group, every axis, lambda_0 and eta lambda_0.
    "family", "group", *[axis for axis in AXES if axis not in ("head", "width", "bottleneck_width",
                                                                "seed", "learning_rate", "eta_lambda0")],
    "lambda0", "eta_lambda0",
    # Along the path (the kernel snapshots): the catapult and Theorem 5.1's rate.
    "loss_peak_ratio", "eta_lambda_max_final", "lambda_min_init", "lambda_min_path", "loss_rate",
    "loss_rate_over_eta_lambda_min",
    "hessian_ratio_init",  # ||H(x_0)|| / K(x_0, x_0) at w_0: scale-free (parameterisation, output scale)
    *LINEARISATION_COLUMNS,
    # K(w_0) against the infinite-width kernel Theta: ||K(w_0) - Theta||_F / ||Theta||_F, NaN where Theta is
    # not derived, and "derived" or the reason it is not (pipelines.sweep.kernel_limit)
    "kernel_deviation_init", "kernel_limit",
    "fingerprint",  # the hash of the settings that made the run (ntk_linearity.provenance.ledger)
    # The ball analysis of Proposition 2.2 (NaN for runs without it)
    "path_hessian_sup", "ball_ratio_max", "ball_gradient_ratio_max", "ball_wall_seconds",
    # How ||H|| was computed (numerics.hessian.hessian_method): closed_form (one hidden layer, Eq. 5/13),
    # subspace_lanczos (a deeper mlp: Lanczos on the layer subspace) or lanczos (all parameters)
    "hessian_method",
]
CURVE_KEYS = ["namespace", "sweep", "architecture", "group", "head", "width", "bottleneck_width",
              "depth", "seed"]
# The ball table: one row per point at which Proposition 2.2 was measured (sweep/nodes.analyse_ball,
# numerics/ball.PointMeasure): the run's keys, the point, both sides of the bound and their ratios.
BALL_COLUMNS = [*CURVE_KEYS, "kind", "radius_label", "radius", "direction", "s", "distance",
                "hessian_norm", "hessian_sup", "kernel_change", "kernel_bound", "ratio", "gradient_ratio"]
BALL_RUN_KEYS = ["namespace", "sweep", "architecture", "group", "head", "width", "seed"]
TIMING_COLUMNS = ["wall_seconds", "hessian_wall_seconds"]  # the only columns that vary between runs
RUN_ORDER = ["sweep", "architecture", "width", "bottleneck_width", "channels", "bottleneck_channels", "depth",
             "seed", "namespace"]


def sort_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs in a fixed order: by sweep, architecture, width, bottleneck width, channels, bottleneck
    channels, depth and seed."""
    return runs.sort_values(RUN_ORDER, na_position="first", kind="stable").reset_index(drop=True)
