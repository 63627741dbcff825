"""Gradient descent to convergence with kernel snapshots (E1, E2, E3, E5, E6)."""

from __future__ import annotations

import logging
import time

import numpy as np

from ntk_linearity.numerics import DivergenceError, delta_k_noise_floor, gradient_descent
from ntk_linearity.pipelines.common import as_jax, build_model, targets_for
from ntk_linearity.pipelines.sweep import RunSpec

logger = logging.getLogger(__name__)
MAX_CURVE_POINTS = 200


def _log_spaced(values: np.ndarray, n_points: int) -> tuple[list[int], list[float]]:
    """At most ``n_points`` log-spaced (step, value) pairs of a per-step curve, ends included."""
    steps = np.unique(np.round(np.geomspace(1, len(values), n_points)).astype(int) - 1)
    steps = np.unique(np.concatenate([[0], steps, [len(values) - 1]]))
    return steps.tolist(), values[steps].astype(float).tolist()


def run_label(run: RunSpec, learning_rate: float) -> str:
    """How errors name a run: namespace, width, head, seed and learning rate."""
    widths = "x".join(str(w) for w in run.hidden_widths)
    return (
        f"run {run.namespace} (widths {widths}, head {run.head}, seed {run.seed}, "
        f"learning_rate {learning_rate})"
    )


def train_network(
    initial_params: dict,
    data: dict,
    model_params: dict,
    training_params: dict,
    *,
    run: RunSpec,
) -> tuple[dict, dict, dict]:
    """Train from w_0 to convergence; return w_T, the full history and the run's metrics."""
    model = build_model(run, model_params, data)
    params0 = as_jax(initial_params, model.dtype)
    X, y = np.asarray(data["X"]), targets_for(run, data)
    learning_rate = float(training_params["learning_rate"][run.architecture])
    label = run_label(run, learning_rate)
    loss = training_params["softmax_loss"] if run.head == "softmax" else "square"

    def progress(step: int, total: int, current: float) -> None:
        logger.info("%s: step %d/%d, loss %.3e", run.namespace, step, total, current)

    started = time.perf_counter()
    record = run.as_record() | {"learning_rate": learning_rate, "max_steps": training_params["max_steps"]}
    try:
        result = gradient_descent(
            model.apply,
            params0,
            X,
            y,
            learning_rate=learning_rate,
            max_steps=int(training_params["max_steps"]),
            tol=float(training_params["tol"]),
            loss=loss,
            n_snapshots=int(training_params["n_snapshots"]),
            divergence_factor=float(training_params["divergence_factor"]),
            progress_every=int(training_params["progress_every"]),
            progress=progress,
            label=label,
        )
    except DivergenceError as error:
        if training_params["on_divergence"] != "skip":
            raise
        logger.warning("%s; on_divergence=skip, the sweep goes on", error)
        return _diverged(initial_params, record | {"wall_seconds": time.perf_counter() - started}, error)

    floor = delta_k_noise_floor(model.apply, result.params, params0, X)
    loss_steps, loss_values = _log_spaced(result.losses, MAX_CURVE_POINTS)
    metrics = record | {
        "diverged": False,
        "error": "",
        "steps": result.steps,
        "converged": result.converged,
        "initial_loss": float(result.losses[0]),
        "final_loss": float(result.losses[-1]),
        "delta_k": result.delta_k_max,
        "delta_k_final_float64": floor.delta_k_float64,
        "delta_k_noise_floor": floor.estimator_error,
        "kernel_float32_rounding": floor.kernel_rounding,
        "weight_change_l2": result.weight_change_l2,
        "weight_change_linf": result.weight_change_linf,
        "wall_seconds": time.perf_counter() - started,
        "curves": {
            "snapshot_steps": result.snapshot_steps.tolist(),
            "delta_k": result.delta_k.tolist(),
            "loss_steps": loss_steps,
            "loss": loss_values,
        },
    }
    logger.info(
        "%s: %s after %d steps, loss %.2e, Delta K %.3e (noise floor %.1e)",
        run.namespace, "converged" if result.converged else "stopped", result.steps,
        metrics["final_loss"], metrics["delta_k"], metrics["delta_k_noise_floor"],
    )
    history = {
        "losses": result.losses,
        "snapshot_steps": result.snapshot_steps,
        "delta_k": result.delta_k,
        "kernels": result.kernels,
    }
    final_params = {name: np.asarray(value) for name, value in result.params.items()}
    return final_params, history, metrics


def _diverged(initial_params: dict, record: dict, error: DivergenceError) -> tuple[dict, dict, dict]:
    """Outputs of a run skipped after divergence: w_0 as w_T, empty history, NaN metrics."""
    nan = float("nan")
    metrics = record | {
        "diverged": True,
        "error": str(error),
        "steps": error.step,
        "converged": False,
        "initial_loss": nan,
        "final_loss": error.loss if np.isfinite(error.loss) else nan,
        **dict.fromkeys(
            ["delta_k", "delta_k_final_float64", "delta_k_noise_floor", "kernel_float32_rounding",
             "weight_change_l2", "weight_change_linf"],
            nan,
        ),
        "curves": {"snapshot_steps": [], "delta_k": [], "loss_steps": [], "loss": []},
    }
    empty = np.zeros((0,))
    history = {"losses": empty, "snapshot_steps": empty, "delta_k": empty, "kernels": empty}
    return dict(initial_params), history, metrics
