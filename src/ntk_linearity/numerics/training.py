"""Full-batch gradient descent with tangent-kernel snapshots (paper Section 5 and 6).

Steps run inside a jitted ``lax.while_loop`` between host checkpoints, so there is no host round-trip
per step; at the checkpoints of a snapshot schedule the kernel change
``Delta K(t) = ||K(w_t) - K(w_0)||_F / ||K(w_0)||_F`` is recorded (Section 6). Training stops when the
loss falls to ``tol`` or after ``max_steps``; a non-finite or exploding loss raises
:class:`DivergenceError`, naming the learning rate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ntk_linearity.numerics.compiling import sized_jit
from ntk_linearity.numerics.kernels import empirical_ntk, kernel_reference
from ntk_linearity.numerics.models import cache_per_model

LOSSES = ("square", "kl")
SPACINGS = ("log", "linear")
SEGMENT_SECONDS = 5.0  # the longest a compiled stretch of GD steps runs between two host checkpoints


class DivergenceError(RuntimeError):
    """Gradient descent produced a non-finite or exploding loss."""

    def __init__(self, message: str, step: int, loss: float, learning_rate: float):
        super().__init__(message)
        self.step, self.loss, self.learning_rate = step, loss, learning_rate


@dataclass(frozen=True)
class TrainingResult:
    """Everything a run of :func:`gradient_descent` measured."""

    losses: np.ndarray  # L(w_t) for t = 0 .. steps
    snapshot_steps: np.ndarray  # steps t at which K(w_t) was recorded
    delta_k: np.ndarray  # ||K(w_t) - K(w_0)||_F / ||K(w_0)||_F at those steps
    kernels: np.ndarray  # K(w_t) at those steps, shape (S, N, N)
    params: dict  # w_T, the final parameters
    steps: int
    converged: bool
    weight_change_l2: float  # ||w_T - w_0||_2 (Eq. 2: Omega(1))
    weight_change_linf: float  # ||w_T - w_0||_inf (O(1/sqrt m), Section 1)

    @property
    def delta_k_max(self) -> float:
        """Delta K = sup_t ||K(w_t) - K(w_0)||_F / ||K(w_0)||_F (Section 6)."""
        return float(np.max(self.delta_k))


def square_loss(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """``(1 / 2n) sum_i ||f(x_i) - y_i||^2``: the square loss of Theorem 5.1, averaged over samples."""
    residual = jnp.reshape(outputs - targets, (outputs.shape[0], -1))
    return 0.5 * jnp.mean(jnp.sum(residual**2, axis=-1))


def kl_loss(probabilities: jax.Array, targets: jax.Array) -> jax.Array:
    """``(1/n) sum_i KL(y_i || p_i)`` for a softmax head with soft targets: zero exactly at a fit."""
    safe_targets = jnp.where(targets > 0, targets, 1.0)
    return jnp.mean(jnp.sum(targets * (jnp.log(safe_targets) - jnp.log(probabilities)), axis=-1))


LOSS_FUNCTIONS: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "square": square_loss,
    "kl": kl_loss,
}


def snapshot_schedule(max_steps: int, n_snapshots: int, spacing: str = "log") -> np.ndarray:
    """Distinct steps in ``[0, max_steps]``, always including both ends; ``log`` spacing resolves
    the early phase where the kernel moves most (Fig. 1 right)."""
    if spacing not in SPACINGS:
        raise ValueError(f"spacing must be one of {list(SPACINGS)}, got {spacing!r}")
    if n_snapshots < 2:
        raise ValueError(f"n_snapshots must be at least 2, got {n_snapshots}")
    if spacing == "log":
        inner = np.geomspace(1, max_steps, n_snapshots - 1) if max_steps >= 1 else np.array([])
    else:
        inner = np.linspace(0, max_steps, n_snapshots)
    return np.unique(np.concatenate([[0, max_steps], np.round(inner)]).astype(np.int64))


def _weight_change(params, params0) -> tuple[float, float]:
    """``||w - w_0||_2`` and ``||w - w_0||_inf``, on the host (no program to compile per shape)."""
    flat = lambda tree: np.concatenate([np.ravel(np.asarray(a, np.float64)) for a in jax.tree.leaves(tree)])  # noqa: E731
    delta = flat(params) - flat(params0)
    return float(np.linalg.norm(delta)), float(np.max(np.abs(delta)))


@cache_per_model(maxsize=32)
def _gd_functions(apply: Callable, loss: str):
    """Jitted ``(value, grad)`` of the loss and the GD loop, cached per (apply, loss) so that runs of
    the same architecture compile once. The loop takes GD steps from ``step`` until ``stop``,
    convergence (``loss <= tol``) or divergence (non-finite, or above ``ceiling``)."""
    loss_of = LOSS_FUNCTIONS[loss]
    value_and_grad = sized_jit(jax.value_and_grad(lambda p, X, y: loss_of(apply(p, X), y)))

    @sized_jit
    def run(params, loss, grad, losses, step, stop, lr, tol, ceiling, X, y):
        def keep_going(carry):
            _, loss, _, _, step = carry
            return (step < stop) & (loss > tol) & jnp.isfinite(loss) & (loss <= ceiling)

        def gd_step(carry):
            params, _, grad, losses, step = carry
            params = jax.tree.map(lambda w, g: w - lr * g, params, grad)
            loss, grad = value_and_grad(params, X, y)
            return params, loss, grad, losses.at[step + 1].set(loss), step + 1

        return jax.lax.while_loop(keep_going, gd_step, (params, loss, grad, losses, step))

    return value_and_grad, run


def gradient_descent(
    apply: Callable,
    params,
    X: jax.Array,
    y: jax.Array,
    *,
    learning_rate: float,
    max_steps: int,
    tol: float = 1e-4,
    loss: str = "square",
    snapshot_steps=None,
    n_snapshots: int = 20,
    divergence_factor: float = 1e3,
    kernel_method: str = "auto",
    progress_every: int | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    label: str = "",
) -> TrainingResult:
    """Full-batch gradient descent ``w <- w - eta grad L(w)`` on ``loss`` ("square" or, for softmax
    heads, "kl") until ``L(w_t) <= tol`` or ``max_steps``.

    The kernel ``K(w_t)`` is recorded at ``snapshot_steps`` (default: ``n_snapshots`` log-spaced steps)
    and at the stopping step. ``progress(step, max_steps, loss)`` is called at every checkpoint
    (snapshots, every ``progress_every`` steps, and at least every ``SEGMENT_SECONDS`` of steps, so that
    progress and Ctrl-C never wait for a long stretch of steps on a wide network). A loss that becomes
    non-finite or exceeds ``divergence_factor`` times its initial value raises :class:`DivergenceError`, whose message
    starts with ``label`` and names the learning rate.
    """
    if loss not in LOSS_FUNCTIONS:
        raise ValueError(f"loss must be one of {list(LOSS_FUNCTIONS)}, got {loss!r}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
    if not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    dtype = jnp.result_type(*jax.tree.leaves(params))
    X, y = jnp.asarray(X, dtype), jnp.asarray(y, dtype)
    value_and_grad, segment = _gd_functions(apply, loss)

    schedule = (
        snapshot_schedule(max_steps, n_snapshots)
        if snapshot_steps is None
        else np.unique(np.clip(np.asarray(snapshot_steps, np.int64), 0, max_steps))
    )
    snapshots = set(int(s) for s in schedule) | {0, int(max_steps)}
    checkpoints = set(snapshots)
    if progress_every:
        checkpoints |= set(range(progress_every, max_steps, progress_every))

    params0 = params
    reference = kernel_reference(apply, params0, X, method=kernel_method)
    K0 = reference.kernel
    K0_norm = float(jnp.linalg.norm(K0))
    loss0, grad = value_and_grad(params, X, y)
    losses = jnp.full((max_steps + 1,), jnp.nan, dtype).at[0].set(loss0)
    ceiling = divergence_factor * max(float(loss0), float(jnp.finfo(dtype).tiny))
    lr_ = jnp.asarray(learning_rate, dtype)
    state = (params, loss0, grad, losses, jnp.asarray(0))
    steps_seen, delta_k, kernels = [0], [0.0], [np.asarray(K0)]

    step, current = 0, float(loss0)
    targets = iter(sorted(checkpoints - {0}))
    target, seconds_per_step = next(targets), None
    while True:
        # at most SEGMENT_SECONDS per compiled segment: Ctrl-C and progress never wait longer (where a
        # segment stops does not change a number: the loop's state passes through unchanged)
        stop = target if seconds_per_step is None else min(
            target, step + max(1, int(SEGMENT_SECONDS / seconds_per_step)))
        started, before = time.perf_counter(), step
        state = segment(*state, stop, lr_, tol, ceiling, X, y)
        step, current = int(state[4]), float(state[1])
        if step > before:
            seconds_per_step = (time.perf_counter() - started) / (step - before)
        if not np.isfinite(current) or current > ceiling:
            raise DivergenceError(
                f"{label + ': ' if label else ''}gradient descent diverged at step {step} "
                f"(loss {current:.3g}, initial {float(loss0):.3g}) with learning_rate="
                f"{learning_rate}; lower the learning rate",
                step=step,
                loss=current,
                learning_rate=learning_rate,
            )
        converged = current <= tol
        if step in snapshots or converged:
            dK = reference.difference(state[0])
            steps_seen.append(step)
            delta_k.append(float(jnp.linalg.norm(dK)) / K0_norm)
            kernels.append(np.asarray(K0 + dK))
        if progress is not None:
            progress(step, max_steps, current)
        if step >= target:
            target = next(targets, None)
        if converged or target is None:
            break

    l2, linf = _weight_change(state[0], params0)
    return TrainingResult(
        losses=np.asarray(state[3])[: step + 1],
        snapshot_steps=np.asarray(steps_seen),
        delta_k=np.asarray(delta_k),
        kernels=np.stack(kernels),
        params=state[0],
        steps=step,
        converged=current <= tol,
        weight_change_l2=l2,
        weight_change_linf=linf,
    )


def loss_decay_rate(losses, window: float = 0.5) -> float:
    """The exponential rate r of ``L_t ~ c exp(-r t)`` per step: minus the least-squares slope of
    ``ln L_t`` against t over the last ``window`` of the steps (at least 3 steps, else NaN).

    The tail is where the slowest mode left dominates: for the square loss of a linear model the
    residual along an eigenvector of ``K/n`` with eigenvalue lambda shrinks by ``|1 - eta lambda|``
    per step, so that mode's loss decays at ``r = -2 ln|1 - eta lambda|`` (about 2 eta lambda), while
    Theorem 5.1 (Eq. 15) guarantees at least ``-ln(1 - eta mu) >= eta mu`` with mu = lambda_min(K/n)
    along the path: a fitted r / (eta lambda_min) is >= 1 where the theorem applies and about 2 when
    the slowest mode alone is left.
    """
    losses = np.asarray(losses, np.float64)
    if not 0 < window <= 1:
        raise ValueError(f"window must be in (0, 1], got {window!r}")
    start = int(np.floor((1 - window) * (len(losses) - 1)))
    steps = np.arange(start, len(losses))
    tail = losses[start:]
    keep = np.isfinite(tail) & (tail > 0)
    if keep.sum() < 3:
        return float("nan")
    slope = np.polyfit(steps[keep], np.log(tail[keep]), 1)[0]
    return float(-slope)


def lazy_targets(targets, outputs0, output_scale: float):
    """Targets of the model ``alpha f`` (``output_scale`` alpha, ``outputs0 = alpha f(w_0; X)``) whose
    square loss is that of Chizat et al.'s ``f_alpha = alpha (f - f(w_0))`` against ``y - f(w_0)``
    (the paper's Appendix A):

        alpha f(w) - (y + (alpha - 1) f(w_0)) = alpha (f(w) - f(w_0)) - (y - f(w_0)).

    The offset ``f(w_0)`` has no derivative, so it lives here and not in the model: kernels and
    Hessians of ``alpha f`` are those of ``f_alpha``. Against ``y - f(w_0)`` rather than ``y``, alpha = 1 is
    the ordinary problem (``f -> y``) and every alpha asks ``f`` to move the fraction 1/alpha of the way
    from ``f(w_0)`` to ``y``; for a softmax head (``f = p``, ``p - p_0`` sums to 0 over the classes) the
    targets ``y - p_0`` sum to 0 too, so they are attainable, and with ``p_0`` uniform (the antisymmetric
    initialisation) the loss differs from that against ``y`` by a constant only (the component of ``y``
    along (1, ..., 1), which ``p - p_0`` cannot fit): the same gradients. alpha = 1 returns ``targets``.
    """
    if output_scale == 1.0:
        return targets
    return targets + (1.0 - 1.0 / output_scale) * outputs0


def kernel_top_eigenvalue(apply: Callable, params, X: jax.Array) -> float:
    """lambda_0 = lambda_max(K(w)/n), n the number of samples (K is nC x nC for C outputs).

    To first order a step of gradient descent on L = (1/2n) sum_i ||f(x_i) - y_i||^2 maps the
    residual r to (I - (eta/n) K) r, so the linearised model converges iff eta < 2 / lambda_0: the
    run's own stability limit, against which a learning rate can be set (``relative_to_critical``).
    """
    K = empirical_ntk(apply, params, X)
    return float(jnp.linalg.eigvalsh(K)[-1]) / X.shape[0]
