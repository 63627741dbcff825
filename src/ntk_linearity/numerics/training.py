"""Full-batch gradient descent with tangent-kernel snapshots (paper Section 5 and 6).

:func:`gradient_descent` binds a :class:`GradientDescentSettings` and returns a function of the data.
Steps run inside a jitted ``lax.while_loop`` between host checkpoints, so there is no host round-trip
per step; at the checkpoints of a snapshot schedule the kernel change
``Delta K(t) = ||K(w_t) - K(w_0)||_F / ||K(w_0)||_F`` is recorded (Section 6), with the distance of the
network from its linearisation at w_0; the linearised model trains alongside inside the loop
(:mod:`ntk_linearity.numerics.linearisation`). Training stops when the
loss falls to ``tol`` or after ``max_steps``; a non-finite or exploding loss raises
:class:`DivergenceError`, naming the learning rate.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntk_linearity.numerics.compiling import sized_jit
from ntk_linearity.numerics.kernels import KernelReference, empirical_ntk, kernel_reference
from ntk_linearity.numerics.linearisation import Linearised, LinearisationPath, linearised_gap
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
    # max_t ||f(w_t) - f(w_0) - J(w_0)(w_t - w_0)||_2 / ||f(w_T) - f(w_0)||_2 over the kernel snapshots:
    # the second-order Taylor term of Section 1, O(1/sqrt m) for a linear output, Theta(1) otherwise
    linearisation_error: float
    # max_t ||f(w_t) - f_lin,t||_2 / ||y - f(w_0)||_2 over the steps, f_lin trained alongside by GD from w_0
    linearised_gap: float

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


@dataclass(frozen=True)
class GradientDescentSettings:
    """The settings of a run of :func:`gradient_descent`, checked once (one-line errors naming them).

    Full-batch steps ``w <- w - learning_rate grad L(w)`` on ``loss`` ("square" or, for softmax heads,
    "kl") until ``L(w_t) <= tol`` or ``max_steps``. The kernel ``K(w_t)`` is recorded at
    ``snapshot_steps`` (clipped to ``[0, max_steps]``; e.g. :func:`snapshot_schedule`), at 0, at
    ``max_steps`` and at the stopping step; progress is reported at those steps, every
    ``progress_every`` steps (None: never on a schedule) and at least every ``SEGMENT_SECONDS`` of
    steps. A loss that becomes non-finite or exceeds ``divergence_factor`` times its initial value
    raises :class:`DivergenceError`. ``kernel_method``: as for
    :func:`~ntk_linearity.numerics.kernels.kernel_reference`. ``track_linearisation``: the two measures
    of :mod:`~ntk_linearity.numerics.linearisation` (False: NaN in their place; what the benchmark of their
    cost compares against, ``ntk_linearity.bench``).
    """

    learning_rate: float
    max_steps: int
    tol: float
    loss: str
    snapshot_steps: tuple[int, ...]
    divergence_factor: float
    progress_every: int | None
    kernel_method: str = "auto"
    track_linearisation: bool = True

    def __post_init__(self) -> None:
        if self.loss not in LOSS_FUNCTIONS:
            raise ValueError(f"loss must be one of {list(LOSS_FUNCTIONS)}, got {self.loss!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if not isinstance(self.max_steps, (int, np.integer)) or self.max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {self.max_steps!r}")
        object.__setattr__(self, "snapshot_steps", tuple(int(s) for s in self.snapshot_steps))


class _Carry(NamedTuple):
    """The state of the GD loop: ``w_t``, ``L(w_t)``, ``grad L(w_t)``, the losses so far, ``t``, the
    outputs ``f(w_t)`` (of the loss's own forward pass) and the linearised model beside it."""

    params: object
    loss: jax.Array
    grad: object
    losses: jax.Array
    step: jax.Array
    outputs: jax.Array
    linearised: Linearised


class _Bounds(NamedTuple):
    """Where a compiled stretch of steps ends (at step ``stop``, at ``loss <= tol`` or once the loss is
    non-finite or above ``ceiling``) and the step size."""

    stop: int
    learning_rate: jax.Array
    tol: float
    ceiling: float


@cache_per_model(maxsize=32)
def _gd_functions(apply: Callable, loss: str, linearised: bool):
    """Jitted ``((value, outputs), grad)`` of the loss and the GD loop, cached per (apply, loss) so that
    runs of the same architecture compile once. The loop takes GD steps from ``carry.step`` until
    ``bounds.stop``, convergence or divergence (:class:`_Bounds`), and, with ``linearised``, the step of
    the linearised model with the tangent kernel ``kernel0`` at w_0 beside each."""
    loss_of = LOSS_FUNCTIONS[loss]

    def objective(params, X, y):
        outputs = apply(params, X)
        return loss_of(outputs, y), outputs

    value_and_grad = sized_jit(jax.value_and_grad(objective, has_aux=True))

    @sized_jit
    def run(carry: _Carry, bounds: _Bounds, X, y, kernel0) -> _Carry:
        def keep_going(carry):
            return ((carry.step < bounds.stop) & (carry.loss > bounds.tol) & jnp.isfinite(carry.loss)
                    & (carry.loss <= bounds.ceiling))

        def gd_step(carry):
            params = jax.tree.map(lambda w, g: w - bounds.learning_rate * g, carry.params, carry.grad)
            (loss, outputs), grad = value_and_grad(params, X, y)
            model = (carry.linearised.advance(loss_of, kernel0, bounds.learning_rate, y, outputs)
                     if linearised else carry.linearised)
            return _Carry(params, loss, grad, carry.losses.at[carry.step + 1].set(loss), carry.step + 1,
                          outputs, model)

        return jax.lax.while_loop(keep_going, gd_step, carry)

    return value_and_grad, run


def _checkpoints(settings: GradientDescentSettings) -> tuple[set[int], list[int]]:
    """The snapshot steps (0 and ``max_steps`` included) and every later step where the loop stops
    for the host: the snapshots and every ``progress_every`` steps, in order."""
    max_steps = settings.max_steps
    schedule = np.unique(np.clip(np.asarray(settings.snapshot_steps, np.int64), 0, max_steps))
    snapshots = set(int(s) for s in schedule) | {0, int(max_steps)}
    checkpoints = set(snapshots)
    if settings.progress_every:
        checkpoints |= set(range(settings.progress_every, max_steps, settings.progress_every))
    return snapshots, sorted(checkpoints - {0})


class _KernelPath:
    """``K(w_t)`` at the snapshots and ``Delta K(t) = ||K(w_t) - K(w_0)||_F / ||K(w_0)||_F`` (Section 6),
    each change computed from the factor changes at ``w_t`` (:class:`KernelReference`)."""

    def __init__(self, reference: KernelReference) -> None:
        self.reference, self.norm0 = reference, float(jnp.linalg.norm(reference.kernel))
        self.steps, self.delta_k, self.kernels = [0], [0.0], [np.asarray(reference.kernel)]

    def record(self, step: int, params) -> None:
        dK = self.reference.difference(params)
        self.steps.append(step)
        self.delta_k.append(float(jnp.linalg.norm(dK)) / self.norm0)
        self.kernels.append(np.asarray(self.reference.kernel + dK))


def _segment_stop(step: int, target: int, seconds_per_step: float | None) -> int:
    """The last step of the next compiled segment: ``target``, or sooner so that the segment takes at
    most ``SEGMENT_SECONDS`` (Ctrl-C and progress never wait longer; where a segment stops does not
    change a number: the loop's state passes through unchanged)."""
    if seconds_per_step is None:
        return target
    return min(target, step + max(1, int(SEGMENT_SECONDS / seconds_per_step)))


def _check_divergence(carry: _Carry, ceiling: float, loss0: float, settings: GradientDescentSettings,
                      label: str) -> None:
    """Raise :class:`DivergenceError` when the loss is non-finite or above ``ceiling``."""
    step, current = int(carry.step), float(carry.loss)
    if not np.isfinite(current) or current > ceiling:
        raise DivergenceError(
            f"{label + ': ' if label else ''}gradient descent diverged at step {step} "
            f"(loss {current:.3g}, initial {loss0:.3g}) with learning_rate="
            f"{settings.learning_rate}; lower the learning rate",
            step=step,
            loss=current,
            learning_rate=settings.learning_rate,
        )


def gradient_descent(settings: GradientDescentSettings) -> Callable[..., TrainingResult]:
    """Full-batch gradient descent with the given settings, as a function of the data:
    ``descend(apply, params, X, y, progress=None, label="") -> TrainingResult``.

    ``progress(step, max_steps, loss)`` is called at every checkpoint (:class:`GradientDescentSettings`);
    a :class:`DivergenceError`'s message starts with ``label`` and names the learning rate.
    """
    return functools.partial(_descend, settings)


def _descend(settings: GradientDescentSettings, apply: Callable, params0, X: jax.Array, y: jax.Array,
             progress: Callable[[int, int, float], None] | None = None, label: str = "") -> TrainingResult:
    """The run of :func:`gradient_descent`: compiled segments of steps between host checkpoints."""
    dtype = jnp.result_type(*jax.tree.leaves(params0))
    X, y = jnp.asarray(X, dtype), jnp.asarray(y, dtype)
    value_and_grad, segment = _gd_functions(apply, settings.loss, settings.track_linearisation)
    snapshots, checkpoints = _checkpoints(settings)
    path = _KernelPath(kernel_reference(apply, params0, X, method=settings.kernel_method))
    linearisation = LinearisationPath(apply, params0, X)
    (loss0, outputs0), grad = value_and_grad(params0, X, y)
    losses = jnp.full((settings.max_steps + 1,), jnp.nan, dtype).at[0].set(loss0)
    ceiling = settings.divergence_factor * max(float(loss0), float(jnp.finfo(dtype).tiny))
    bounds = _Bounds(0, jnp.asarray(settings.learning_rate, dtype), settings.tol, ceiling)
    carry = _Carry(params0, loss0, grad, losses, jnp.asarray(0), outputs0, Linearised.start(outputs0))

    step, targets = 0, iter(checkpoints)
    target, seconds_per_step = next(targets), None
    while True:
        started, before = time.perf_counter(), step
        carry = segment(carry, bounds._replace(stop=_segment_stop(step, target, seconds_per_step)), X, y,
                        path.reference.kernel)
        step, current = int(carry.step), float(carry.loss)
        if step > before:
            seconds_per_step = (time.perf_counter() - started) / (step - before)
        _check_divergence(carry, ceiling, float(loss0), settings, label)
        converged = current <= settings.tol
        if step in snapshots or converged:
            path.record(step, carry.params)
            if settings.track_linearisation:
                linearisation.record(carry.params, carry.outputs)
        if progress is not None:
            progress(step, settings.max_steps, current)
        if step >= target:
            target = next(targets, None)
        if converged or target is None:
            measures = ((linearisation.error(outputs0, carry.outputs),
                         linearised_gap(carry.linearised.gap, outputs0, y))
                        if settings.track_linearisation else (float("nan"), float("nan")))
            return _result(carry, params0, path, converged, linearisation=measures)


def _result(carry: _Carry, params0, path: _KernelPath, converged: bool,
            linearisation: tuple[float, float]) -> TrainingResult:
    """The :class:`TrainingResult` of the final carry; ``linearisation``: the linearisation error and
    the linearised model's gap."""
    step = int(carry.step)
    l2, linf = _weight_change(carry.params, params0)
    return TrainingResult(
        losses=np.asarray(carry.losses)[: step + 1],
        snapshot_steps=np.asarray(path.steps),
        delta_k=np.asarray(path.delta_k),
        kernels=np.stack(path.kernels),
        params=carry.params,
        steps=step,
        converged=converged,
        weight_change_l2=l2,
        weight_change_linf=linf,
        linearisation_error=linearisation[0],
        linearised_gap=linearisation[1],
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
