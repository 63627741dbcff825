"""Spectral norm of the model Hessian ``H = d^2 f / dw^2`` at one input (paper Eq. 5, 10, 13).

H is the Hessian of the model output, not of a loss, and it is indefinite: for the shallow network
with a trainable readout every neuron contributes a 2x2 block with eigenvalues of both signs. Power
iteration on such spectra stalls, so ``||H|| = max |lambda|`` is computed by Lanczos with full
re-orthogonalisation on Hessian-vector products (forward-over-reverse), and every estimate comes
with its residual ``||H y - theta y||`` (DESIGN.md section 4).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

DEFAULT_LANCZOS_STEPS = 64
REORTH_BLOCK = 8  # basis rows per re-orthogonalisation block


class SpectralNorm(NamedTuple):
    """``norm = max |lambda(H)|`` (one entry per model output), the Ritz residual of that
    eigenpair, and the extreme Ritz values ``lambda_min``, ``lambda_max`` of the Krylov space."""

    norm: jax.Array
    residual: jax.Array
    lambda_min: jax.Array
    lambda_max: jax.Array


def hessian_vector_product(apply: Callable, params, x: jax.Array, output: int | jax.Array = 0):
    """``v -> H v`` for output ``output`` of the model at input ``x``, on flattened parameters."""
    flat, unravel = ravel_pytree(params)

    def f(w):
        return jnp.reshape(apply(unravel(w), x[None]), (-1,))[output]

    grad_f = jax.grad(f)
    return flat, lambda v: jax.jvp(grad_f, (flat,), (v,))[1]


def lanczos_tridiagonal(matvec: Callable, v0: jax.Array, steps: int) -> tuple[jax.Array, jax.Array]:
    """``steps`` Lanczos iterations: the three-term recurrence followed by one full (block
    Gram-Schmidt) re-orthogonalisation against every basis vector built so far. The basis is the
    memory, (steps + 1) x p floats; re-orthogonalising only its filled blocks halves the traffic.

    Returns the diagonal ``alpha`` (steps,) and off-diagonal ``beta`` (steps,) of the tridiagonal
    matrix T; ``beta[-1]`` is the norm of the final residual vector. On an invariant subspace
    (``beta -> 0``) the remaining basis vectors are zero and contribute only zero Ritz values.
    """
    dim = v0.shape[0]
    rows = -(-(steps + 1) // REORTH_BLOCK) * REORTH_BLOCK
    basis = jnp.zeros((rows, dim), v0.dtype).at[0].set(v0 / jnp.linalg.norm(v0))
    tiny = jnp.finfo(v0.dtype).eps

    def reorthogonalise(basis, w, j):
        def subtract_block(k, w):
            block = jax.lax.dynamic_slice_in_dim(basis, k * REORTH_BLOCK, REORTH_BLOCK)
            return w - block.T @ (block @ w)

        return jax.lax.fori_loop(0, j // REORTH_BLOCK + 1, subtract_block, w)

    def body(j, carry):
        basis, alpha, beta, scale = carry
        v = basis[j]
        w = matvec(v)
        a = jnp.vdot(v, w)
        w = w - a * v - jnp.where(j > 0, beta[j - 1], 0.0) * basis[jnp.maximum(j - 1, 0)]
        w = reorthogonalise(basis, w, j)  # rows above j are still zero
        b = jnp.linalg.norm(w)
        scale = jnp.maximum(scale, jnp.abs(a) + b)
        nxt = jnp.where(b > tiny * scale, w / jnp.where(b > 0, b, 1.0), 0.0)
        return basis.at[j + 1].set(nxt), alpha.at[j].set(a), beta.at[j].set(b), scale

    zeros = jnp.zeros((steps,), v0.dtype)
    _, alpha, beta, _ = jax.lax.fori_loop(
        0, steps, body, (basis, zeros, zeros, jnp.asarray(0.0, v0.dtype))
    )
    return alpha, beta


def extreme_eigenvalue(alpha: jax.Array, beta: jax.Array) -> SpectralNorm:
    """Largest-|lambda| Ritz pair of the Lanczos tridiagonal matrix, with its residual
    ``|beta_k * s_k|`` (the classical a-posteriori Lanczos bound)."""
    T = jnp.diag(alpha) + jnp.diag(beta[:-1], 1) + jnp.diag(beta[:-1], -1)
    theta, S = jnp.linalg.eigh(T)
    top = jnp.argmax(jnp.abs(theta))
    return SpectralNorm(
        norm=jnp.abs(theta[top]),
        residual=jnp.abs(beta[-1] * S[-1, top]),
        lambda_min=theta[0],
        lambda_max=theta[-1],
    )


@lru_cache(maxsize=32)
def _lanczos_norm_fn(apply: Callable, steps: int) -> Callable:
    """Jitted ``(params, x, output, v0) -> SpectralNorm``, cached so repeated calls compile once."""

    @jax.jit
    def one_output(params, x, output, v0):
        _, hvp = hessian_vector_product(apply, params, x, output)
        return extreme_eigenvalue(*lanczos_tridiagonal(hvp, v0, steps))

    return one_output


def hessian_spectral_norm(
    apply: Callable,
    params,
    x: jax.Array,
    steps: int = DEFAULT_LANCZOS_STEPS,
    key: jax.Array | None = None,
) -> SpectralNorm:
    """``||H(w)|| = max |lambda|`` of ``d^2 f(w; x) / dw^2`` at a single input ``x`` (shape (d,)).

    For a model with C outputs every field has shape (C,): one Hessian per output (softmax heads,
    Eq. 13). ``steps`` Lanczos iterations are capped at the parameter count, where the result is
    exact up to round-off. ``key`` seeds the random start vector (default: key 0).
    """
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"x must be a single input of shape (d,), got shape {x.shape}")
    key = jax.random.key(0) if key is None else key
    out_shape = jax.eval_shape(apply, params, x[None]).shape
    n_out = out_shape[-1] if len(out_shape) == 2 else 1
    flat, _ = ravel_pytree(params)
    steps = int(min(steps, flat.shape[0]))
    v0 = jax.random.normal(key, flat.shape, flat.dtype)
    one_output = _lanczos_norm_fn(apply, steps)
    per_output = [one_output(params, x, c, v0) for c in range(n_out)]
    result = SpectralNorm(*(jnp.stack(field) for field in zip(*per_output)))
    return result if n_out > 1 else SpectralNorm(*(field[0] for field in result))
