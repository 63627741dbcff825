"""Lanczos estimates of the spectral norm of the model Hessian ``H = d^2 f / dw^2`` at one input (paper
Eq. 5, 10, 13).

H is the Hessian of the model output, not of a loss, and it is indefinite: for the shallow network
with a trainable readout every neuron contributes a 2x2 block with eigenvalues of both signs. Power
iteration on such spectra stalls, so ``||H|| = max |lambda|`` is computed by Lanczos with full
re-orthogonalisation on Hessian-vector products (forward-over-reverse), stopped early once the top
Ritz pair has converged, and every estimate comes with its residual ``||H y - theta y||``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from ntk_linearity.numerics.compiling import sized_jit
from ntk_linearity.numerics.models import cache_per_model

DEFAULT_LANCZOS_STEPS = 64
DEFAULT_LANCZOS_TOL = 1e-6  # stop once the top Ritz residual is below tol * |theta_top|
REORTH_BLOCK = 8  # basis rows per re-orthogonalisation block; convergence is checked every block


class SpectralNorm(NamedTuple):
    """``norm = max |lambda(H)|`` (one entry per model output), the residual of that estimate, and the
    extreme eigenvalue estimates ``lambda_min``, ``lambda_max``; ``steps``: iterations taken.

    Lanczos: ``residual`` is the Ritz residual ``||H y - theta y||`` of the top pair (some eigenvalue
    of H lies within it of ``theta``), ``lambda_min``/``lambda_max`` are the extreme Ritz values of the
    Krylov space and ``steps`` the Lanczos steps taken (fewer than requested after early stopping).
    Closed form: ``lambda_min``/``lambda_max`` are the extreme eigenvalues of H (to machine precision
    relative to ``norm``), ``residual`` bounds ``|norm - ||H|||`` in exact arithmetic (``||H||`` lies
    below ``norm + residual``, the far end of the final bisection brackets: machine precision; 0 for
    the linear head), and ``steps`` counts bisection steps (0 for the linear head).
    """

    norm: jax.Array
    residual: jax.Array
    lambda_min: jax.Array
    lambda_max: jax.Array
    steps: jax.Array


def hessian_vector_product(apply: Callable, params, x: jax.Array, output: int | jax.Array = 0):
    """``v -> H v`` for output ``output`` of the model at input ``x``, on flattened parameters."""
    flat, unravel = ravel_pytree(params)

    def f(w):
        return jnp.reshape(apply(unravel(w), x[None]), (-1,))[output]

    grad_f = jax.grad(f)
    return flat, lambda v: jax.jvp(grad_f, (flat,), (v,))[1]


def _ritz(alpha: jax.Array, beta: jax.Array, k: jax.Array | int) -> SpectralNorm:
    """Largest-|lambda| Ritz pair of the leading ``k x k`` block of the Lanczos tridiagonal matrix
    (``alpha``, ``beta`` have a static length >= k; entries past ``k`` are ignored), with its
    residual ``|beta_{k-1} * s_{k-1}|`` (the classical a-posteriori Lanczos bound)."""
    n = alpha.shape[0]
    idx = jnp.arange(n)
    inside = idx < k
    # Padding rows get the Rayleigh quotient alpha_0, which lies inside the Ritz range of T_k, so
    # the padded (decoupled) eigenvalues can never become extreme.
    diag = jnp.where(inside, alpha, alpha[0])
    off = jnp.where(idx[:-1] < k - 1, beta[:-1], 0.0)
    T = jnp.diag(diag) + jnp.diag(off, 1) + jnp.diag(off, -1)
    theta, S = jnp.linalg.eigh(T)
    valid = jnp.sum(jnp.where(inside[:, None], S, 0.0) ** 2, axis=0) > 0.5  # Ritz vectors of T_k
    top = jnp.argmax(jnp.where(valid, jnp.abs(theta), -1.0))
    last = jnp.take(S, k - 1, axis=0)[top]
    return SpectralNorm(
        norm=jnp.abs(theta[top]),
        residual=jnp.abs(jnp.take(beta, k - 1) * last),
        lambda_min=jnp.min(jnp.where(valid, theta, jnp.inf)),
        lambda_max=jnp.max(jnp.where(valid, theta, -jnp.inf)),
        steps=jnp.asarray(k, jnp.int32),
    )


def lanczos_tridiagonal(
    matvec: Callable, v0: jax.Array, steps: int, tol: float = 0.0
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Up to ``steps`` Lanczos iterations: the three-term recurrence followed by one full (block
    Gram-Schmidt) re-orthogonalisation against every basis vector built so far. The basis is the
    memory, (steps + 1) x p floats; re-orthogonalising only its filled blocks halves the traffic.

    Early stopping: every ``REORTH_BLOCK`` steps the largest-|theta| Ritz pair of the tridiagonal
    matrix built so far is computed, and the iteration stops once its residual is at most
    ``tol * |theta|`` (``tol = 0``: always take all ``steps``). The loop is a ``lax.while_loop``.

    Returns the diagonal ``alpha`` (steps,), the off-diagonal ``beta`` (steps,) of the tridiagonal
    matrix T and the number ``k`` of steps taken; entries past ``k`` are zero and ``beta[k - 1]`` is
    the norm of the last residual vector. On an invariant subspace (``beta -> 0``) the Ritz residual
    is zero, so a positive ``tol`` stops there; with ``tol = 0`` the remaining basis vectors are
    zero and contribute only zero Ritz values.
    """
    dim = v0.shape[0]
    rows = -(-(steps + 1) // REORTH_BLOCK) * REORTH_BLOCK
    basis = jnp.zeros((rows, dim), v0.dtype).at[0].set(v0 / jnp.linalg.norm(v0))
    tiny = jnp.finfo(v0.dtype).eps
    tol = jnp.asarray(tol, v0.dtype)

    def reorthogonalise(basis, w, j):
        def subtract_block(k, w):
            block = jax.lax.dynamic_slice_in_dim(basis, k * REORTH_BLOCK, REORTH_BLOCK)
            return w - block.T @ (block @ w)

        return jax.lax.fori_loop(0, j // REORTH_BLOCK + 1, subtract_block, w)

    def body(carry):
        j, basis, alpha, beta, scale, _ = carry
        v = basis[j]
        w = matvec(v)
        a = jnp.vdot(v, w)
        w = w - a * v - jnp.where(j > 0, beta[j - 1], 0.0) * basis[jnp.maximum(j - 1, 0)]
        w = reorthogonalise(basis, w, j)  # rows above j are still zero
        b = jnp.linalg.norm(w)
        scale = jnp.maximum(scale, jnp.abs(a) + b)
        nxt = jnp.where(b > tiny * scale, w / jnp.where(b > 0, b, 1.0), 0.0)
        basis, alpha, beta = basis.at[j + 1].set(nxt), alpha.at[j].set(a), beta.at[j].set(b)
        k = j + 1

        def converged(_):
            ritz = _ritz(alpha, beta, k)
            return ritz.residual <= tol * ritz.norm

        check = (tol > 0) & (k % REORTH_BLOCK == 0) & (k < steps)
        done = jax.lax.cond(check, converged, lambda _: jnp.asarray(False), None)
        return k, basis, alpha, beta, scale, done

    def keep_going(carry):
        j, *_, done = carry
        return (j < steps) & ~done

    zeros = jnp.zeros((steps,), v0.dtype)
    init = (jnp.asarray(0, jnp.int32), basis, zeros, zeros, jnp.asarray(0.0, v0.dtype), jnp.asarray(False))
    k, _, alpha, beta, _, _ = jax.lax.while_loop(keep_going, body, init)
    return alpha, beta, k


def extreme_eigenvalue(alpha: jax.Array, beta: jax.Array, k: jax.Array | int | None = None) -> SpectralNorm:
    """Largest-|lambda| Ritz pair of the Lanczos tridiagonal matrix after ``k`` steps (default: all),
    with its residual ``|beta_{k-1} * s_{k-1}|`` (the classical a-posteriori Lanczos bound)."""
    return _ritz(alpha, beta, alpha.shape[0] if k is None else k)


@cache_per_model(maxsize=32)
def lanczos_norm_fn(apply: Callable, steps: int, tol: float) -> Callable:
    """Jitted ``(params, x, output, v0) -> SpectralNorm``, cached so repeated calls compile once."""

    @sized_jit
    def one_output(params, x, output, v0):
        _, hvp = hessian_vector_product(apply, params, x, output)
        return extreme_eigenvalue(*lanczos_tridiagonal(hvp, v0, steps, tol))

    return one_output
