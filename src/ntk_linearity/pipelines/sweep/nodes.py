"""The nodes of one run: initialise -> train -> Hessian analysis (and, where switched on, the ball).

Every run node receives its fully resolved, validated :class:`~ntk_linearity.experiment.sweeps.RunSpec`
(bound when the pipeline is built) and the shared data; it never reads raw parameters.
"""

from __future__ import annotations

import logging
import time

import jax
import jax.numpy as jnp
import numpy as np

from ntk_linearity.experiment.groups import PathRadius, RelativeLearningRate
from ntk_linearity.experiment.sweeps import RunSpec
from ntk_linearity.experiment.families import DATA_GROUPS
from ntk_linearity.pipelines.schema import LINEARISATION_COLUMNS
from ntk_linearity.pipelines.sweep.kernel_limit import kernel_limit_metrics, kernel_limit_reason
from ntk_linearity.provenance.ledger import require_data
from ntk_linearity.numerics import (
    SIMPLEX_HEADS,
    DivergenceError,
    GradientDescentSettings,
    KernelSpectrum,
    NoiseFloor,
    TrainingResult,
    ball_measures,
    closed_form_hessian_norms,
    path_measures,
    unit_directions,
    delta_k_noise_floor,
    empirical_ntk,
    gradient_descent,
    hessian_method,
    hessian_spectral_norm,
    kernel_spectrum,
    kernel_top_eigenvalue,
    loss_decay_rate,
    lazy_targets,
    snapshot_schedule,
)
from ntk_linearity.execution.progress import publish_step

logger = logging.getLogger(__name__)


def _as_jax(arrays: dict, dtype: str) -> dict:
    """Persisted numpy arrays back to JAX arrays of the model's dtype."""
    return {name: jnp.asarray(value, dtype) for name, value in arrays.items()}


def _targets(run: RunSpec, data: dict) -> np.ndarray:
    """Soft class labels for the softmax head, regression targets otherwise."""
    return np.asarray(data["y_class"] if run.head == "softmax" else data["y"])


# ---------------------------------------------------------------------------------------------
# Initialisation (Section 3.2)
# ---------------------------------------------------------------------------------------------


def initialise_parameters(data: dict, *, run: RunSpec, data_settings: dict) -> dict[str, np.ndarray]:
    """w_0 drawn from the run's seed: the same seed always gives the same weights. Data generated
    under other settings than ``data_settings`` is refused. ``init`` runs op by op: each layer's draw
    compiles once per layer shape, shared by every network with that layer (one program per network
    would compile for about 1.5 s per shape)."""
    require_data(data, data_settings, DATA_GROUPS[run.dataset])
    params = run.build(data).init(jax.random.key(run.seed))
    return {name: np.asarray(value) for name, value in params.items()}


# ---------------------------------------------------------------------------------------------
# Training: gradient descent to convergence with kernel snapshots (E1, E2, E3, E5, E6)
# ---------------------------------------------------------------------------------------------


def run_label(run: RunSpec, learning_rate: float) -> str:
    """How errors name a run: namespace, network, seed and learning rate."""
    return f"run {run.namespace} ({run.describe()}, seed {run.seed}, learning_rate {learning_rate})"


def learning_rate_of(run: RunSpec, lambda0: float) -> float:
    """eta of the run: its number, or ``relative_to_critical`` x 2 / lambda_max(K(w_0)/n)."""
    if isinstance(run.learning_rate, RelativeLearningRate):
        return run.learning_rate.relative_to_critical * 2.0 / lambda0
    return float(run.learning_rate)


def eta_lambda0_of(run: RunSpec, learning_rate: float, lambda0: float) -> float:
    """eta * lambda_0 of the run: exactly 2 r for ``relative_to_critical: r`` (an ``eta_lambda0`` axis
    value comes back as written), the product otherwise."""
    if isinstance(run.learning_rate, RelativeLearningRate):
        return 2.0 * run.learning_rate.relative_to_critical
    return learning_rate * lambda0


def path_metrics(losses: np.ndarray, spectrum: KernelSpectrum, learning_rate: float) -> dict[str, float]:
    """What the loss and the kernel snapshots say about the path of one run.

    ``loss_peak_ratio`` = max_t L_t / L_0 (1 when the loss never rises; a catapult lifts it, by a
    factor that grows with the width); ``eta_lambda_max_final`` = eta lambda_max(K_T/n) (below 2
    once training is stable, whatever it was at w_0); ``lambda_min_init`` = lambda_min(K_0/n) and
    ``lambda_min_path`` = min over the snapshots of lambda_min(K_t/n), the PL constant mu of Theorem 5.1
    along the path; ``loss_rate`` the fitted
    exponential rate of the loss tail (:func:`~ntk_linearity.numerics.loss_decay_rate`), and its ratio
    to eta mu (>= 1 where Eq. 15 applies, about 2 when only the slowest linear mode is left)."""
    lambda_min = float(np.min(spectrum.lambda_min))
    rate = loss_decay_rate(losses)
    return {
        "loss_peak_ratio": float(np.max(losses) / losses[0]),
        "eta_lambda_max_final": learning_rate * float(spectrum.lambda_max[-1]),
        "lambda_min_init": float(spectrum.lambda_min[0]),
        "lambda_min_path": lambda_min,
        "loss_rate": rate,
        "loss_rate_over_eta_lambda_min": rate / (learning_rate * lambda_min) if lambda_min > 0 else float("nan"),
    }


PATH_METRICS = ("loss_peak_ratio", "eta_lambda_max_final", "lambda_min_init", "lambda_min_path", "loss_rate",
                "loss_rate_over_eta_lambda_min")


def train_network(initial_params: dict, data: dict, *, run: RunSpec) -> tuple[dict, dict, dict]:
    """Train from w_0 to convergence; return w_T, the full history and the run's metrics.

    The metrics record lambda_0 = lambda_max(K(w_0)/n) and eta * lambda_0 (stable below 2 for the
    linearised model of the square loss) whichever way eta was set, and :func:`path_metrics`; the
    history holds lambda_max and lambda_min of K_t/n at every kernel snapshot
    (:func:`~ntk_linearity.numerics.kernel_spectrum`; for a softmax head lambda_min on the residuals
    whose C outputs sum to zero).

    With an output scale alpha != 1 the model is ``alpha f`` and the targets carry the offset f(w_0)
    (:func:`~ntk_linearity.numerics.lazy_targets`): the residual is that of ``f_alpha = alpha (f - f(w_0))``
    against ``y - f(w_0)``. The objective is the loss divided by alpha^2 (Chizat et al.): eta and lambda_0
    are those of L / alpha^2 (lambda_0 = lambda_max(K_alpha/n) / alpha^2 = lambda_max(K/n)), and GD on L /
    alpha^2 with step eta takes exactly the steps of GD on L with step eta / alpha^2, which is what runs.
    The recorded losses are L itself, the fit of ``y - f(w_0)`` by ``f_alpha``: the same number at w_0 for
    every alpha, so ``tol`` means the same fit at every alpha."""
    model = run.build(data)
    params0 = _as_jax(initial_params, model.dtype)
    X, y = _training_problem(run, data, model, params0)
    lambda0 = kernel_top_eigenvalue(model.apply, params0, X) / run.output_scale**2
    learning_rate = learning_rate_of(run, lambda0)
    started = time.perf_counter()
    record = run.as_record() | {"learning_rate": learning_rate, "max_steps": run.training.max_steps,
                                "lambda0": lambda0, "eta_lambda0": eta_lambda0_of(run, learning_rate, lambda0)}
    try:
        result = gradient_descent(descent_settings(run, learning_rate))(
            model.apply, params0, X, y, progress=_progress(run), label=run_label(run, learning_rate))
    except DivergenceError as error:
        if run.training.on_divergence != "skip":
            raise
        logger.warning("%s; on_divergence=skip, the sweep goes on", error)
        return _diverged(initial_params, record | {"wall_seconds": time.perf_counter() - started,
                                                   "kernel_limit": kernel_limit_reason(run)}, error)

    floor = delta_k_noise_floor(model.apply, result.params, params0, X,
                                float32=(result.kernels[0], result.delta_k[-1]))
    # The spectra of the objective's kernel, like lambda_0: K_alpha / alpha^2 of L / alpha^2 (K at alpha = 1)
    spectrum = kernel_spectrum(result.kernels / run.output_scale**2, X.shape[0],
                               outputs_sum_to_one=run.head in SIMPLEX_HEADS)
    metrics = (record | path_metrics(result.losses, spectrum, learning_rate) | _trained_metrics(result, floor)
               | kernel_limit_metrics(run, model, X, result.kernels[0])
               | {"wall_seconds": time.perf_counter() - started})
    logger.info(
        "%s: %s after %d steps, loss %.2e, Delta K %.3e (noise floor %.1e)",
        run.namespace, "converged" if result.converged else "stopped", result.steps,
        metrics["final_loss"], metrics["delta_k"], metrics["delta_k_noise_floor"],
    )
    final_params = {name: np.asarray(value) for name, value in result.params.items()}
    return final_params, _history(result, spectrum), metrics


def _training_problem(run: RunSpec, data: dict, model, params0: dict) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of the run; with an output scale alpha != 1 the targets carry the offset
    f(w_0) (:func:`~ntk_linearity.numerics.lazy_targets`)."""
    X, y, alpha = np.asarray(data["X"]), _targets(run, data), run.output_scale
    if alpha != 1.0:
        y = lazy_targets(y, np.asarray(model.apply(params0, X)), alpha)
    return X, y


def descent_settings(run: RunSpec, learning_rate: float) -> GradientDescentSettings:
    """The gradient descent of the run, from its ``training`` group: the step ``learning_rate / alpha^2``
    on L (GD on L / alpha^2 with step eta, see :func:`train_network`), the square loss or, for a softmax
    head, ``training.softmax_loss``, and ``n_snapshots`` log-spaced kernel snapshots."""
    settings = run.training
    return GradientDescentSettings(
        learning_rate=learning_rate / run.output_scale**2,
        max_steps=settings.max_steps,
        tol=settings.tol,
        loss=settings.softmax_loss if run.head == "softmax" else "square",
        snapshot_steps=tuple(snapshot_schedule(settings.max_steps, settings.n_snapshots)),
        divergence_factor=settings.divergence_factor,
        progress_every=settings.progress_every,
    )


def _progress(run: RunSpec):
    """The progress callback of the run's gradient descent: a debug line and the live progress display."""

    def progress(step: int, total: int, current: float) -> None:
        logger.debug("%s: step %d/%d, loss %.3e", run.namespace, step, total, current)
        publish_step(run.namespace, step, total, current)

    return progress


def _trained_metrics(result: TrainingResult, floor: NoiseFloor) -> dict:
    """What a converged or stopped run measured (besides its path metrics and wall time)."""
    return {
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
        "linearisation_error": result.linearisation_error,
        "linearised_gap": result.linearised_gap,
    }


def _history(result: TrainingResult, spectrum: KernelSpectrum) -> dict:
    """The losses and kernel snapshots of a run, with the extreme eigenvalues of K_t/n."""
    return {
        "losses": result.losses,
        "snapshot_steps": result.snapshot_steps,
        "delta_k": result.delta_k,
        "kernels": result.kernels,
        "lambda_max": spectrum.lambda_max,
        "lambda_min": spectrum.lambda_min,
    }


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
             "weight_change_l2", "weight_change_linf", "kernel_deviation_init", *PATH_METRICS,
             *LINEARISATION_COLUMNS],
            nan,
        ),
    }
    empty = np.zeros((0,))
    history = {"losses": empty, "snapshot_steps": empty, "delta_k": empty, "kernels": empty,
               "lambda_max": empty, "lambda_min": empty}
    return dict(initial_params), history, metrics


# ---------------------------------------------------------------------------------------------
# Hessian spectral norm and gradient norm (E4: Table 1, Eq. 5, 6, 13, 14)
# ---------------------------------------------------------------------------------------------


def analyse_hessian(initial_params: dict, final_params: dict, data: dict, *, run: RunSpec) -> dict:
    """||H|| = max |lambda(d^2 f / dw^2)| at the probe input x_0 (the largest over outputs), at w_0 and
    at w_T, the tangent kernel diagonal K(x, x) = ||grad_w f||^2 (Eq. 6) averaged over the data, and at
    w_0 the scale-free ratio ||H(x_0)|| / K(x_0, x_0) (of the same output): a common factor that
    rescales the model or its parameters (the parameterisation, Appendix B; the output scale,
    Appendix A) cancels in it. ``hessian_method`` records how ‖H‖ was computed (the dispatcher's
    choice for this model: ``closed_form``, ``subspace_lanczos`` or ``lanczos``)."""
    model = run.build(data)
    X = np.asarray(data["X"])
    probe = X[run.hessian.probe_index]
    started = time.perf_counter()
    metrics = {"namespace": run.namespace, "n_params": model.n_params,
               "hessian_method": hessian_method(model.apply)}
    for stage, arrays in (("init", initial_params), ("final", final_params)):
        params = _as_jax(arrays, model.dtype)
        norm = hessian_spectral_norm(model.apply, params, probe, steps=run.hessian.lanczos_steps,
                                     key=jax.random.key(run.seed))
        top = int(np.argmax(np.atleast_1d(norm.norm)))
        metrics[f"hessian_norm_{stage}"] = float(np.atleast_1d(norm.norm)[top])
        metrics[f"hessian_residual_{stage}"] = float(np.atleast_1d(norm.residual)[top])
        # K(x, x) from the kernel's diagonal (rows sample * C + output): the kernel's own programs
        diagonal = np.diag(np.asarray(empirical_ntk(model.apply, params, X))).reshape(len(X), -1)
        metrics[f"ntk_diag_{stage}"] = float(np.mean(diagonal))
        if stage == "init":
            probe_diag = diagonal[run.hessian.probe_index]  # K(x_0, x_0) of each output
            metrics["hessian_ratio_init"] = metrics["hessian_norm_init"] / float(probe_diag[top])
    metrics["hessian_wall_seconds"] = time.perf_counter() - started
    logger.info(
        "%s: ||H|| %.3e -> %.3e (residual %.1e), K(x,x) %.3f",
        run.namespace, metrics["hessian_norm_init"], metrics["hessian_norm_final"],
        metrics["hessian_residual_init"], metrics["ntk_diag_init"],
    )
    return metrics


# ---------------------------------------------------------------------------------------------
# The ball of Proposition 2.2 around w_0, and the path w_0 -> w*
# ---------------------------------------------------------------------------------------------


def radius_label(radius) -> str:
    """How tables and figures name a configured radius: ``"0.5 R*"`` or ``"2"``."""
    if isinstance(radius, PathRadius):
        return f"{radius.relative_to_path:g} R*"
    return f"{radius:g}"


def analyse_ball(initial_params: dict, final_params: dict, training_metrics: dict, data: dict, *,
                 run: RunSpec) -> dict:
    """Both sides of Proposition 2.2 (:mod:`ntk_linearity.numerics.ball`) at ``ball.directions`` points
    w_0 + R u of every configured radius R and at ``ball.path_points - 1`` points of the path
    w_0 -> w*, on the first ``ball.probes`` training inputs.

    Returns the run's ``summary`` (the sup of ||H|| along the path, the largest ratio of kernel
    change to bound and of gradient change to its bound, the wall time) and its ``points``: one
    record per measured point (kind ``ball`` or ``path``, the radius as configured and in weight
    units, the direction, the fraction s along the segment, and the fields of
    :class:`~ntk_linearity.numerics.ball.PointMeasure`). A diverged run has no points."""
    ball = run.ball
    started = time.perf_counter()
    if training_metrics["diverged"]:
        return {"summary": {}, "points": []}
    model = run.build(data)
    X = jnp.asarray(np.asarray(data["X"])[: ball.probes], model.dtype)
    params0, params_end = _as_jax(initial_params, model.dtype), _as_jax(final_params, model.dtype)
    norms = closed_form_hessian_norms(model.apply, ball.hessian_rtol)
    path_length = float(training_metrics["weight_change_l2"])  # R* = ||w* - w_0||_2
    key = jax.random.fold_in(jax.random.key(ball.seed), run.seed)
    frozen = () if run.model.train_last_layer else ("readout",)
    directions = unit_directions(key, params0, ball.directions, frozen)
    radii = [r.relative_to_path * path_length if isinstance(r, PathRadius) else float(r) for r in ball.radii]
    per_radius = ball_measures(model.apply, norms, params0, X, directions, radii, ball.segment_points)
    points = [{"kind": "ball", "radius_label": radius_label(radius), "radius": value, "direction": i, "s": 1.0,
               **measure._asdict()}
              for radius, value, measures in zip(ball.radii, radii, per_radius) for i, measure in enumerate(measures)]
    fractions, measures = path_measures(model.apply, norms, params0, params_end, X, ball.path_points)
    points += [{"kind": "path", "radius_label": "R*", "radius": path_length, "direction": -1,
                "s": float(s), **measure._asdict()} for s, measure in zip(fractions, measures)]
    summary = {
        "path_hessian_sup": points[-1]["hessian_sup"],
        "ball_ratio_max": max(p["ratio"] for p in points),
        "ball_gradient_ratio_max": max(p["gradient_ratio"] for p in points),
        "ball_wall_seconds": time.perf_counter() - started,
    }
    logger.info("%s: Proposition 2.2 at %d points, sup ||H|| on the path %.3e, largest ratio of kernel "
                "change to bound %.3g (must be <= 1)", run.namespace, len(points),
                summary["path_hessian_sup"], summary["ball_ratio_max"])
    return {"summary": summary, "points": points}
