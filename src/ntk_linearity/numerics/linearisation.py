"""The network against its linearisation ``f_lin(w) = f(w_0) + J(w_0)(w - w_0)`` (paper Section 1, Eq. 2-3;
Proposition 2.1: a constant tangent kernel is a linear model).

``f`` is the model's output after its head (and output scale), ``J(w_0) = d f / d w`` at ``w_0``, applied
only as a Jacobian-vector product (``jax.jvp``): no Jacobian is formed. Two measures, both tracked by
:func:`~ntk_linearity.numerics.training.gradient_descent`:

* the **linearisation error** along the path, ``max_t ||f(w_t) - f_lin(w_t)||_2 / ||f(w_T) - f(w_0)||_2``
  over the kernel snapshots t (:class:`LinearisationPath`). Taylor's theorem with the integral
  remainder bounds it per input x: ``|f(w; x) - f_lin(w; x)| <= 1/2 sup_{s in [0, 1]} ||H(w_0 + s(w - w_0); x)||
  ||w - w_0||^2`` (the second-order term the paper's Section 1 points to). With ``||w - w_0|| = Theta(1)``
  (Eq. 2) it is O(1/sqrt m) for a linear output (||H|| of Eq. 5, 10) and Theta(1) for a non-linear head
  (Eq. 14);
* the **linearised model trained alongside**: gradient descent on ``L(f_lin(w))`` from the same w_0 with the
  same step eta, ``w_{t+1} = w_t - eta J_0^T grad_out L(f_lin(w_t))``, moves the linearised outputs by
  ``f_lin,t+1 = f_lin,t - eta K(w_0) grad_out L(f_lin,t)`` with ``K(w_0) = J_0 J_0^T`` the tangent kernel of Eq. 1
  (:func:`linearised_step`): the n C x n C kernel the run already has, no parameters. ``grad_out L`` is
  ``jax.grad`` of the run's own loss on the outputs, so its normalisation (``1/n``) is the loss's.
  The gap ``max_t ||f(w_t) - f_lin,t||_2 / ||y - f(w_0)||_2`` (:class:`Linearised`) is taken over every step.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from ntk_linearity.numerics.compiling import sized_jit
from ntk_linearity.numerics.models import cache_per_model


def linearised_step(loss_of: Callable, kernel0: jax.Array, learning_rate, outputs: jax.Array,
                    targets: jax.Array) -> jax.Array:
    """One gradient-descent step of the linearised model in function space:
    ``f_lin,t+1 = f_lin,t - eta K(w_0) grad_out L(f_lin,t)`` (module docstring), ``loss_of(outputs, targets)``
    the run's loss and ``kernel0`` the (n C, n C) tangent kernel at w_0 with rows ``sample * C + output``
    (:func:`~ntk_linearity.numerics.kernels.empirical_ntk`), the order of the flattened outputs."""
    gradient = jax.grad(loss_of)(outputs, targets)
    return outputs - learning_rate * jnp.reshape(kernel0 @ jnp.ravel(gradient), outputs.shape)


class Linearised(NamedTuple):
    """The linearised model in the gradient-descent loop: its outputs ``f_lin,t`` (the network's shape) and
    the largest ``||f(w_s) - f_lin,s||_2`` over the steps s <= t so far."""

    outputs: jax.Array
    gap: jax.Array

    @classmethod
    def start(cls, outputs0: jax.Array) -> Linearised:
        """At w_0 the two models agree: ``f_lin,0 = f(w_0)``, gap 0."""
        return cls(outputs0, jnp.zeros((), outputs0.dtype))

    def advance(self, loss_of: Callable, kernel0: jax.Array, learning_rate, targets: jax.Array,
                outputs: jax.Array) -> Linearised:
        """The step of :func:`linearised_step` taken beside the network's step to ``outputs = f(w_t+1)``,
        and the gap at t+1. ``fmax`` keeps the largest finite gap seen should the linearised model
        overflow (above its stability limit eta lambda_max(K(w_0)/n) = 2 the gap grows without bound)."""
        linear = linearised_step(loss_of, kernel0, learning_rate, self.outputs, targets)
        return Linearised(linear, jnp.fmax(self.gap, jnp.linalg.norm(jnp.ravel(outputs - linear))))


def relative(value: float, scale: float) -> float:
    """``value / scale``, NaN when the scale is zero (nothing moved, nothing to compare)."""
    return value / scale if scale > 0 else float("nan")


def linearised_gap(gap: float, outputs0, targets) -> float:
    """``max_t ||f(w_t) - f_lin,t||_2 / ||y - f(w_0)||_2`` from the largest gap of :class:`Linearised`."""
    return relative(float(gap), float(jnp.linalg.norm(jnp.ravel(targets - outputs0))))


@cache_per_model(maxsize=32)
def _remainder_fn(apply: Callable) -> Callable:
    """Jitted ``||f(w) - f(w_0) - J(w_0)(w - w_0)||_2`` on X, cached per model (one compilation per
    architecture); ``outputs`` is f(w) as the training loop has it."""

    @sized_jit
    def remainder(params0, params, outputs: jax.Array, X: jax.Array) -> jax.Array:
        step = jax.tree.map(jnp.subtract, params, params0)
        outputs0, change = jax.jvp(lambda w: apply(w, X), (params0,), (step,))
        return jnp.linalg.norm(jnp.ravel(outputs - outputs0 - change))

    return remainder


class LinearisationPath:
    """``||f(w_t) - f_lin(w_t)||_2`` at the kernel snapshots t (kept on the device until the end) and the
    linearisation error ``max_t ||f(w_t) - f_lin(w_t)||_2 / ||f(w_T) - f(w_0)||_2`` (module docstring)."""

    def __init__(self, apply: Callable, params0, X: jax.Array) -> None:
        self.remainder, self.params0, self.X = _remainder_fn(apply), params0, X
        self.remainders: list[jax.Array] = []

    def record(self, params, outputs: jax.Array) -> None:
        """The remainder at a snapshot w_t, ``outputs = f(w_t)``."""
        self.remainders.append(self.remainder(self.params0, params, outputs, self.X))

    def error(self, outputs0: jax.Array, outputs_end: jax.Array) -> float:
        """The largest recorded remainder over ``||f(w_T) - f(w_0)||_2`` (0 at w_0 by definition)."""
        largest = max((float(r) for r in self.remainders), default=0.0)
        return relative(largest, float(jnp.linalg.norm(jnp.ravel(outputs_end - outputs0))))
