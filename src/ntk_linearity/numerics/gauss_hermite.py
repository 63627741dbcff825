"""Two-dimensional Gauss–Hermite quadrature of the Gaussian expectations of the infinite-width kernel.

For a centred Gaussian pair ``(u, v)`` of covariance ``S = [[s11, s12], [s12, s22]]`` and an activation
sigma, the layer recursion of :mod:`ntk_linearity.numerics.infinite_width` needs

    E[sigma(u) sigma(v)]  and  E[sigma'(u) sigma'(v)].

With the Cholesky factor ``S = L L^T``, ``L = [[a, 0], [b, c]]`` (``a = sqrt(s11)``, ``b = s12 / a``,
``c = sqrt(s22 - b^2)``), ``u = a z1`` and ``v = b z1 + c z2`` for independent standard normals
``z1, z2``; the product rule of ``q`` probabilists' Gauss–Hermite nodes ``z_i`` and weights ``w_i``
(weight function ``exp(-z^2/2)/sqrt(2 pi)``) gives

    E[g(u) h(v)] ~ sum_i w_i g(a z_i) sum_j w_j h(b z_i + c z_j),

exact for polynomials of degree ``2q - 1`` in each of ``z1, z2``. ``g`` needs ``q`` evaluations per pair,
``h`` needs ``q^2``. Smooth activations converge geometrically in ``q``; a kink (ReLU) only
algebraically, which is why ReLU keeps its closed form.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

Expectations = tuple[jax.Array, jax.Array]  # (E[sigma(u) sigma(v)], E[sigma'(u) sigma'(v)])
VARIANCE_FLOOR = 1e-300  # guards 1/sqrt(s11) for an all-zero input (its kernel row is then 0 or constant)
POINTS_PER_BATCH = 1 << 17  # quadrature points per lax.map step: the (pairs, q, q) block stays in cache


@lru_cache(maxsize=16)
def hermite_rule(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """``nodes`` probabilists' Gauss–Hermite nodes and weights for the standard normal density (the
    weights sum to one), in float64."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    return z, w / np.sqrt(2.0 * np.pi)


def padded_rule(nodes: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`hermite_rule` of ``nodes`` nodes followed by ``size - nodes`` nodes of weight zero: the same
    sums, in arrays of a shape shared by several node counts (one compiled program for all of them)."""
    z, w = hermite_rule(nodes)
    return np.pad(z, (0, size - nodes)), np.pad(w, (0, size - nodes))


def derivative(sigma: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], jax.Array]:
    """The elementwise derivative sigma' of an elementwise activation, by automatic differentiation."""
    return jnp.vectorize(jax.grad(sigma))


def cholesky_2x2(s11: jax.Array, s12: jax.Array, s22: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(a, b, c)`` of ``[[s11, s12], [s12, s22]] = L L^T``, ``L = [[a, 0], [b, c]]``, elementwise; a
    singular covariance (the diagonal of a kernel: ``u = v``) has ``c = 0``."""
    a = jnp.sqrt(jnp.maximum(s11, VARIANCE_FLOOR))
    b = s12 / a
    c = jnp.sqrt(jnp.maximum(s22 - b * b, 0.0))
    return a, b, c


def quadrature_expectations(
    sigma: Callable[[jax.Array], jax.Array], s11: jax.Array, s12: jax.Array, s22: jax.Array, rule
) -> Expectations:
    """``E[sigma(u) sigma(v)]`` and ``E[sigma'(u) sigma'(v)]`` for arrays of covariances (any common
    shape), by the product rule of ``rule`` (a node count, or the arrays ``(z, w)`` of
    :func:`hermite_rule` or :func:`padded_rule`) on the Cholesky factor (module docstring); the pairs
    are taken in batches of about :data:`POINTS_PER_BATCH` points (five times faster than one block)."""
    shape = jnp.shape(s12)
    flat = tuple(jnp.ravel(jnp.broadcast_to(t, shape)) for t in (s11, s12, s22))
    z, w = (jnp.asarray(t, flat[0].dtype) for t in (hermite_rule(rule) if isinstance(rule, int) else rule))
    nodes = z.shape[0]
    sigma_dot = derivative(sigma)

    def pair(covariance: tuple[jax.Array, jax.Array, jax.Array]) -> Expectations:
        a, b, c = cholesky_2x2(*covariance)
        u = a * z                                   # (q,): depends on z1 only
        v = b * z[:, None] + c * z                  # (q1, q2)
        inner_sigma = jnp.sum(w * sigma(v), axis=-1)  # sum over z2
        inner_dot = jnp.sum(w * sigma_dot(v), axis=-1)
        return jnp.sum(w * sigma(u) * inner_sigma), jnp.sum(w * sigma_dot(u) * inner_dot)

    size = flat[0].size
    batch = max(1, min(size, POINTS_PER_BATCH // (nodes * nodes)))
    pad = (-size) % batch  # whole batches only: lax.map would compile a second body for a remainder
    padded = tuple(jnp.concatenate([t, jnp.full((pad,), fill, t.dtype)]) for t, fill in zip(flat, (1.0, 0.0, 1.0)))
    expected, expected_dot = jax.lax.map(pair, padded, batch_size=batch)
    return expected[:size].reshape(shape), expected_dot[:size].reshape(shape)
