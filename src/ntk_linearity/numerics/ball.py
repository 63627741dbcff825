"""The ball of Proposition 2.2: the tangent kernel can only move as far as the Hessian lets it.

Proposition 2.2 of the paper: if ``||H(w)|| < eps`` for every w in the ball B(w_0, R), then
``|K_(x,z)(w) - K_(x,z)(w_0)| = O(eps R)``. This module makes the constant explicit and measures both
sides around w_0, on random points of the sphere of radius R and along the path w_0 -> w*.

**The bound.** Write ``g_x(w) = grad_w f(w; x)`` (one row per input and output) and ``rho = ||w - w_0||``.
By the fundamental theorem of calculus along the segment ``w_s = w_0 + s (w - w_0)``, s in [0, 1],

    g_x(w) - g_x(w_0) = int_0^1 H_x(w_s) (w - w_0) ds,  so  ||g_x(w) - g_x(w_0)|| <= eps_x rho,     (1)

with ``eps_x = sup_s ||H_x(w_s)||`` the Hessian norm of that output sup over the *segment* (a subset
of the ball). Since ``K_xz = g_x . g_z``, the kernel change splits exactly in two ways,

    K_xz(w) - K_xz(w_0) = (g_x(w) - g_x(w_0)) . g_z(w)   + g_x(w_0) . (g_z(w) - g_z(w_0))
                        = (g_x(w) - g_x(w_0)) . g_z(w_0) + g_x(w)   . (g_z(w) - g_z(w_0)),

and Cauchy-Schwarz with (1) bounds each entry by the smaller of the two sums

    |K_xz(w) - K_xz(w_0)| <= B_xz = rho min(eps_x |g_z(w)| + |g_x(w_0)| eps_z,
                                           eps_x |g_z(w_0)| + |g_x(w)| eps_z)                   (2)

(the proposition's O(eps R) with its constant: ``|g| = sqrt(K_xx)`` is Theta(1), Eq. 6). B is
non-negative and dominates |Delta K| entrywise, so ``||Delta K||_F <= ||B||_F``: the **ratio**
``||Delta K||_F / ||B||_F`` is at most 1. (2) is attained: for ``f(w) = a ||w||^2 / 2`` and w - w_0
along w_0 both inequalities are equalities (the ratio is 1).

**Sampling the sup.** eps_x is estimated by the largest ||H_x|| on a grid of the segment (its ends
included), which can only underestimate the true sup. The bound uses no more than (1) needs: only
the integral of ||H_x|| over the segment enters, which exceeds the grid maximum only if ||H_x|| has
a peak between grid points higher than every grid value; with ``segment_points`` of tens and ||H||
varying on the scale of the whole segment, a ratio above 1 is a bug to find, not sampling. The
per-input check of (1), ``gradient_ratio = max_x ||g_x(w) - g_x(w_0)|| / (eps_x rho)``, isolates that
step: it is the only inequality here that rests on the sampled sup.

Everything is a pure function of a model's ``apply``, a function giving the Hessian norm of every
output at every probe input, and parameter pytrees (a dict of arrays); directions come from an
explicit PRNG key.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ntk_linearity.numerics.compiling import sized_jit
from ntk_linearity.numerics.hessian import hessian_spectral_norm, supports_closed_form
from ntk_linearity.numerics.kernels import (
    empirical_ntk,
    gradient_change_norms,
    kernel_difference,
    ntk_diagonal,
)
from ntk_linearity.numerics.models import cache_per_model

HessianNorms = Callable[[object, jax.Array], jax.Array]  # (params, X) -> ||H_x|| per row of K, shape (n*C,)


class PointMeasure(NamedTuple):
    """Both sides of Proposition 2.2 at one point w (module docstring).

    ``distance`` = rho = ||w - w_0||; ``hessian_norm`` = max over the probe rows of ||H_x(w)||;
    ``hessian_sup`` = max over the rows of eps_x (the grid sup over the segment [w_0, w]);
    ``kernel_change`` = ||K(w) - K(w_0)||_F / ||K(w_0)||_F; ``kernel_bound`` = ||B||_F / ||K(w_0)||_F
    (Eq. 2 of the module docstring); ``ratio`` = their quotient (<= 1); ``gradient_ratio`` =
    max_x ||g_x(w) - g_x(w_0)|| / (eps_x rho) (<= 1, Eq. 1).
    """

    distance: float
    hessian_norm: float
    hessian_sup: float
    kernel_change: float
    kernel_bound: float
    ratio: float
    gradient_ratio: float


# --------------------------------------------------------------------------------------------------
# Points of the ball and of a segment
# --------------------------------------------------------------------------------------------------


def tree_norm(tree) -> jax.Array:
    """Euclidean norm of a pytree of arrays, all entries together."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree.leaves(tree)))


def unit_directions(key: jax.Array, params: dict, n: int, frozen: Sequence[str] = ()) -> list[dict]:
    """``n`` directions u uniform on the unit sphere of the trainable parameters (Gaussian draws from
    ``key``, normalised over every trainable array together); arrays named in ``frozen`` (a readout
    held fixed) get zeros, so w_0 + R u moves only what training moves."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive number of directions, got {n!r}")
    return _unit_directions(key, params, n, tuple(frozen))


def _unit_directions(key: jax.Array, params: dict, n: int, frozen: tuple[str, ...]) -> list[dict]:
    """One Gaussian draw of shape (n, p) (a single random-bits program per width), masked and
    normalised row by row."""
    flat, unravel = ravel_pytree(params)
    mask, _ = ravel_pytree({name: jnp.full(jnp.shape(value), name not in frozen, flat.dtype)
                            for name, value in params.items()})
    draws = jax.random.normal(key, (n, flat.shape[0]), flat.dtype) * mask
    draws = draws / jnp.linalg.norm(draws, axis=1, keepdims=True)
    return [unravel(row) for row in draws]


@sized_jit
def offset(params: dict, direction: dict, scale) -> dict:
    """``params + scale * direction``, array by array."""
    return {name: params[name] + scale * direction[name] for name in params}


def segment_grid(n_points: int) -> jax.Array:
    """``n_points`` equally spaced fractions s in [0, 1], both ends included."""
    if n_points < 2:
        raise ValueError(f"a segment grid needs at least its two ends, got n_points={n_points!r}")
    return jnp.linspace(0.0, 1.0, n_points)


# --------------------------------------------------------------------------------------------------
# Hessian norms along a segment
# --------------------------------------------------------------------------------------------------


@cache_per_model(maxsize=16)
def closed_form_hessian_norms(apply: Callable, rtol: float = 0.0) -> HessianNorms:
    """Jitted ``(params, X) -> ||H_x(params)||`` for every input and output (shape (n*C,), the row
    order of the tangent kernel) by the exact closed form of :func:`hessian_spectral_norm` for a
    one-hidden-layer ``mlp``, vmapped over the inputs. With ``rtol`` > 0 (bisection of a non-linear
    head stopped at that relative bracket) it returns the bracket's upper end ``norm + residual``,
    never below the exact norm, so a bound built on it stays a bound."""
    if not supports_closed_form(apply):
        raise ValueError("closed_form_hessian_norms needs the bound apply of a one-hidden-layer mlp "
                         "(e.g. ntk_linearity.mlp(d, [m]).apply)")

    def one(params, x):
        norm = hessian_spectral_norm(apply, params, x, method="closed_form", rtol=rtol)
        return norm.norm + norm.residual

    @sized_jit
    def norms(params, X):
        return jnp.reshape(jax.vmap(lambda x: one(params, x))(X), (-1,))

    return norms


@sized_jit(static_argnums=0)
def segment_hessian_norms(hessian_norms: HessianNorms, params0: dict, step: dict, X: jax.Array,
                          grid: jax.Array) -> jax.Array:
    """``||H_x||`` at ``w_0 + s * step`` for every s of ``grid``: shape (len(grid), n*C). One point at a
    time (``lax.map``), so memory stays at one copy of the parameters whatever the width; jitted once
    per ``hessian_norms`` and shapes."""
    return jax.lax.map(lambda s: hessian_norms(offset(params0, step, s), X), grid)


# --------------------------------------------------------------------------------------------------
# The bound and the measurement at one point
# --------------------------------------------------------------------------------------------------


def kernel_change_bound(eps: jax.Array, rho, grad_ref: jax.Array, grad: jax.Array) -> jax.Array:
    """The entrywise bound B of Proposition 2.2 (Eq. 2 of the module docstring), shape (N, N):
    ``eps`` = sup of ||H_x|| over the segment, ``rho`` = ||w - w_0||, ``grad_ref`` = |g_x(w_0)| and
    ``grad`` = |g_x(w)| for every row x of the kernel (shape (N,) each)."""
    first = eps[:, None] * grad[None, :] + grad_ref[:, None] * eps[None, :]
    second = eps[:, None] * grad_ref[None, :] + grad[:, None] * eps[None, :]
    return rho * jnp.minimum(first, second)


class Reference(NamedTuple):
    """What every point of one ball shares: w_0's kernel norm and gradient norms |g_x(w_0)|."""

    kernel_norm: jax.Array
    grad_norms: jax.Array


@cache_per_model(maxsize=16)
def _reference_fn(apply: Callable) -> Callable:
    @sized_jit
    def ref(params0, X):
        return Reference(jnp.linalg.norm(empirical_ntk(apply, params0, X)),
                         jnp.sqrt(jnp.reshape(ntk_diagonal(apply, params0, X), (-1,))))

    return ref


def reference(apply: Callable, params0: dict, X: jax.Array) -> Reference:
    """||K(w_0)||_F and |g_x(w_0)| = sqrt(K_xx(w_0)) for every row of the kernel (jitted per model)."""
    return _reference_fn(apply)(params0, X)


@cache_per_model(maxsize=16)
def _measure_fn(apply: Callable) -> Callable:
    """One jitted program per model for every quantity of :class:`PointMeasure` (each new width
    compiles once, not once per kernel function and array operation)."""

    @sized_jit
    def measure(params0, params, X, ref, eps, here):
        rho = tree_norm({name: params[name] - params0[name] for name in params})
        grad = jnp.sqrt(jnp.reshape(ntk_diagonal(apply, params, X), (-1,)))
        change = jnp.linalg.norm(kernel_difference(apply, params, params0, X))
        bound = jnp.linalg.norm(kernel_change_bound(eps, rho, ref.grad_norms, grad))
        moved = jnp.reshape(gradient_change_norms(apply, params, params0, X), (-1,))
        return jnp.stack([rho, jnp.max(here), jnp.max(eps), change / ref.kernel_norm, bound / ref.kernel_norm,
                          change / bound, jnp.max(moved / (eps * rho))])

    return measure


def measure_point(apply: Callable, params0: dict, params: dict, X: jax.Array, ref: Reference,
                  eps: jax.Array, hessian_here: jax.Array) -> PointMeasure:
    """Both sides of Proposition 2.2 at ``params`` (:class:`PointMeasure`), given the grid sup ``eps``
    of ||H_x|| over the segment [w_0, w] and the norms ``hessian_here`` at w itself (shape (N,) each).
    The kernel change comes from the factor changes (:func:`kernel_difference`), not from two
    rounded kernels."""
    values = np.asarray(_measure_fn(apply)(params0, params, X, ref, eps, hessian_here), np.float64)
    return PointMeasure(*(float(v) for v in values))


@sized_jit
def prefix_sup(norms: jax.Array, end) -> tuple[jax.Array, jax.Array]:
    """The sup over the grid rows 0..``end`` of ``norms`` (shape (points, N)) and row ``end`` itself;
    ``end`` is traced, so every grid point shares one compiled program."""
    inside = jnp.arange(norms.shape[0]) <= end
    return jnp.max(jnp.where(inside[:, None], norms, -jnp.inf), axis=0), norms[end]


# --------------------------------------------------------------------------------------------------
# The ball and the path
# --------------------------------------------------------------------------------------------------


def nested_grid(radii: Sequence[float], segment_points: int) -> np.ndarray:
    """Fractions s of the largest radius at which ||H|| is evaluated along a direction: the union of
    ``segment_points`` equally spaced points of every segment [0, R_k] (ends included), in units of
    max R. Every radius is a grid point, and each segment [w_0, w_0 + R_k u] holds at least
    ``segment_points`` of them, so one pass along the longest segment serves every radius."""
    if segment_points < 2:
        raise ValueError(f"a segment grid needs at least its two ends, got segment_points={segment_points!r}")
    radii = np.asarray(radii, np.float64)
    if radii.ndim != 1 or radii.size == 0 or np.any(radii <= 0) or not np.all(np.isfinite(radii)):
        raise ValueError(f"radii must be positive finite numbers, got {radii.tolist()!r}")
    fractions = np.concatenate([np.linspace(0.0, r / radii.max(), segment_points) for r in radii])
    return np.unique(np.round(fractions, 12))


def ball_measures(apply: Callable, hessian_norms: HessianNorms, params0: dict, X: jax.Array,
                  directions: Sequence[dict], radii: Sequence[float], segment_points: int
                  ) -> list[list[PointMeasure]]:
    """Proposition 2.2 at ``w_0 + R u`` for every radius R of ``radii`` and unit direction u of
    ``directions`` (``[radius][direction]``). Along each direction ||H_x|| is evaluated once, on the
    :func:`nested_grid` of the longest segment; the sup for radius R is over the grid points within
    distance R of w_0 (at least ``segment_points`` of them)."""
    fractions = nested_grid(radii, segment_points)
    grid = jnp.asarray(fractions, jnp.result_type(*jax.tree.leaves(params0)))
    top = float(max(radii))
    ref = reference(apply, params0, X)
    measures = [[] for _ in radii]
    for u in directions:
        step = {name: top * value for name, value in u.items()}
        norms = segment_hessian_norms(hessian_norms, params0, step, X, grid)
        for k, radius in enumerate(radii):
            end = int(np.searchsorted(fractions, np.round(radius / top, 12)))  # the grid point of R
            measures[k].append(measure_point(apply, params0, offset(params0, step, grid[end]), X, ref,
                                             *prefix_sup(norms, end)))
    return measures


def path_measures(apply: Callable, hessian_norms: HessianNorms, params0: dict, params_end: dict,
                  X: jax.Array, path_points: int) -> tuple[jax.Array, list[PointMeasure]]:
    """Proposition 2.2 at the points ``w_0 + s (w* - w_0)`` of a ``path_points`` grid (s > 0), each
    with eps_x the running sup of ||H_x|| over the grid points from w_0 to it (the segment [w_0, w_s]
    is the start of the path). Returns the fractions s and the measures."""
    grid = segment_grid(path_points)
    step = {name: params_end[name] - params0[name] for name in params0}
    norms = segment_hessian_norms(hessian_norms, params0, step, X, grid)
    ref = reference(apply, params0, X)
    measures = [measure_point(apply, params0, offset(params0, step, grid[k]), X, ref, *prefix_sup(norms, k))
                for k in range(1, path_points)]
    return grid[1:], measures
