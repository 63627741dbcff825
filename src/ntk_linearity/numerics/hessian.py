"""Spectral norm of the model Hessian ``H = d^2 f / dw^2`` at one input (paper Eq. 5, 10, 13).

H is the Hessian of the model output, not of a loss, and it is indefinite: for the shallow network
with a trainable readout every neuron contributes a 2x2 block with eigenvalues of both signs. Power
iteration on such spectra stalls, so for a general network ``||H|| = max |lambda|`` is computed by
Lanczos with full re-orthogonalisation on Hessian-vector products (forward-over-reverse), stopped
early once the top Ritz pair has converged, and every estimate comes with its residual
``||H y - theta y||`` (DESIGN.md section 4).

For a one-hidden-layer ``mlp`` the Hessian has a closed form (Eq. 5 and Eq. 13) and its spectral
norm is computed exactly in O(m d + m C^2) time per bisection step; see :func:`shallow_spectral_norm`.
For a deeper ``mlp`` at one input the range of H lies in a subspace of dimension
``sum_l (fan_in + fan_out - 1)`` (far below p, see :func:`layer_subspace`), where Lanczos runs exactly and
its basis costs almost nothing.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from ntk_linearity.numerics.compiling import sized_jit
from ntk_linearity.numerics.models import ACTIVATIONS, HEADS, MLP, READOUT, cache_per_model, layer_name

DEFAULT_LANCZOS_STEPS = 64
DEFAULT_LANCZOS_TOL = 1e-6  # stop once the top Ritz residual is below tol * |theta_top|
REORTH_BLOCK = 8  # basis rows per re-orthogonalisation block; convergence is checked every block
METHODS = ("auto", "closed_form", "subspace_lanczos", "lanczos")
MAX_BISECTION_STEPS = 200


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


# --------------------------------------------------------------------------------------------------
# Lanczos (general networks)
# --------------------------------------------------------------------------------------------------


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
def _lanczos_norm_fn(apply: Callable, steps: int, tol: float) -> Callable:
    """Jitted ``(params, x, output, v0) -> SpectralNorm``, cached so repeated calls compile once."""

    @sized_jit
    def one_output(params, x, output, v0):
        _, hvp = hessian_vector_product(apply, params, x, output)
        return extreme_eigenvalue(*lanczos_tridiagonal(hvp, v0, steps, tol))

    return one_output


# --------------------------------------------------------------------------------------------------
# Lanczos on the layer subspace (mlp of any depth)
# --------------------------------------------------------------------------------------------------


class LayerFrame(NamedTuple):
    """Where one dense layer ``z = c a W`` (``W``: fan_in x fan_out) meets the range of H at one input:
    ``reflector`` h (unit, fan_in) of the Householder map ``R = I - 2 h h^T`` with ``R e_1 = +-a/|a|``,
    and ``cotangent`` the unit ``g / |g|`` of ``g = df/dz`` (fan_out)."""

    reflector: jax.Array
    cotangent: jax.Array


def _unit_or_first_axis(v: jax.Array) -> jax.Array:
    """``v / |v|``, or ``e_1`` when ``v = 0`` (the layer's term of H then has no component along v, and
    any unit vector keeps the subspace a superset of the range)."""
    norm = jnp.linalg.norm(v)
    e1 = jnp.zeros_like(v).at[0].set(1.0)
    return jnp.where(norm > 0, v / jnp.where(norm > 0, norm, 1.0), e1)


def _frame(a: jax.Array, g: jax.Array) -> LayerFrame:
    a = _unit_or_first_axis(a)
    sign = jnp.where(a[0] >= 0, 1.0, -1.0).astype(a.dtype)
    h = a.at[0].add(sign)  # |h|^2 = 2 (1 + |a_0|) >= 2: R = I - 2 h h^T / |h|^2 maps e_1 to -sign a
    return LayerFrame(h / jnp.linalg.norm(h), _unit_or_first_axis(g))


def layer_subspace(model: MLP, params, x: jax.Array, output: int | jax.Array = 0) -> list[LayerFrame]:
    """The frames of every trainable layer of ``model`` at input ``x`` for output ``output``.

    At one input the gradient of f with respect to a dense layer is ``c a^T g`` (``a`` the layer's
    input, ``g = df/dz``), so a Hessian-vector product restricted to that layer is
    ``c (da^T g + a^T dg)``: it lies in ``R^fan_in (x) g + a (x) R^fan_out``, a subspace of dimension
    ``fan_in + fan_out - 1``. With ``R`` the Householder map of :class:`LayerFrame` an orthonormal basis
    of it is ``R [u^T; t g^T]`` (``u`` in R^fan_out, ``t`` in R^(fan_in - 1)), so the whole range of H
    is in a space of dimension ``sum_l (fan_in + fan_out - 1)``; H is zero on its complement and its
    eigenvalues there are those of H plus zeros (``||H||`` is unchanged).
    """
    factors = model.kernel_factors(params, x[None])  # trainable layers, input to output
    return [_frame(A[0], G[0, output]) for G, A, _ in factors]


def _expand(frame: LayerFrame, u: jax.Array, t: jax.Array) -> jax.Array:
    """``dW = R [u^T; t g^T]`` (fan_in x fan_out) from reduced coordinates."""
    h, g = frame
    top = jnp.concatenate([u[None, :], t[:, None] * g[None, :]], axis=0)
    return top - 2 * h[:, None] * (h[0] * u + jnp.dot(h[1:], t) * g)[None, :]


def _project(frame: LayerFrame, dW: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The reduced coordinates ``(u, t)`` of ``P P^T dW``: ``R dW = [u^T; T]``, ``t = T g``."""
    h, g = frame
    hW = h @ dW
    return dW[0] - 2 * h[0] * hW, dW[1:] @ g - 2 * h[1:] * jnp.dot(hW, g)


def subspace_dimension(model: MLP) -> int:
    """``sum_l (fan_in + fan_out - 1)`` over the trainable layers: the size of the Lanczos vectors."""
    trainable = set(model.trainable_layers)
    return sum(fan_in + fan_out - 1 for name, fan_in, fan_out in zip(model.layer_names, model.fan_ins, model.fan_outs)
               if name in trainable)


def subspace_hessian_vector_product(model: MLP, params, x: jax.Array, output: int | jax.Array = 0):
    """``r -> P^T H P r`` with P the orthonormal basis of :func:`layer_subspace` (its eigenvalues are
    those of H, padded with zeros), on flat reduced vectors of length :func:`subspace_dimension`."""
    frames = layer_subspace(model, params, x, output)
    names = model.trainable_layers
    sizes = [(frame.cotangent.shape[0], frame.reflector.shape[0] - 1) for frame in frames]
    cuts = list(itertools.accumulate(n for pair in sizes for n in pair))[:-1]

    def f(p):
        return jnp.reshape(model.apply(p, x[None]), (-1,))[output]

    grad_f = jax.grad(f)

    def hvp(r):
        pieces = jnp.split(r, cuts)
        tangent = {name: jnp.zeros_like(W) for name, W in params.items()}
        for i, (name, frame) in enumerate(zip(names, frames)):
            tangent[name] = _expand(frame, pieces[2 * i], pieces[2 * i + 1]).astype(params[name].dtype)
        Hv = jax.jvp(grad_f, (params,), (tangent,))[1]
        return jnp.concatenate([part for name, frame in zip(names, frames) for part in _project(frame, Hv[name])])

    return hvp


@cache_per_model(maxsize=32)
def _subspace_lanczos_norm_fn(apply: Callable, steps: int, tol: float) -> Callable:
    """Jitted ``(params, x, output, v0) -> SpectralNorm`` on the layer subspace, compiled once per model."""
    model = apply.__self__

    @sized_jit
    def one_output(params, x, output, v0):
        hvp = subspace_hessian_vector_product(model, params, x, output)
        return extreme_eigenvalue(*lanczos_tridiagonal(hvp, v0, steps, tol))

    return one_output


# --------------------------------------------------------------------------------------------------
# Closed form (one-hidden-layer mlp)
# --------------------------------------------------------------------------------------------------


def _mlp_of(apply: Callable) -> MLP | None:
    """The :class:`MLP` whose bound ``apply`` this is (as the structured tangent kernel detects it), else None."""
    model = getattr(apply, "__self__", None)
    return model if isinstance(model, MLP) and getattr(apply, "__func__", None) is MLP.apply else None


def supports_closed_form(apply: Callable) -> bool:
    """True when ``apply`` is the bound ``apply`` of a one-hidden-layer :class:`MLP`."""
    model = _mlp_of(apply)
    return model is not None and len(model.widths) == 1


def _resolve_method(apply: Callable, method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    if method == "auto":
        return ("closed_form" if supports_closed_form(apply)
                else "subspace_lanczos" if _mlp_of(apply) is not None else "lanczos")
    if method == "closed_form" and not supports_closed_form(apply):
        raise ValueError(
            "method 'closed_form' needs the bound apply of a one-hidden-layer mlp "
            "(e.g. ntk_linearity.mlp(d, [m]).apply); use method='lanczos' for other models"
        )
    if method == "subspace_lanczos" and _mlp_of(apply) is None:
        raise ValueError(
            "method 'subspace_lanczos' needs the bound apply of an mlp (e.g. ntk_linearity.mlp(d, [m, m]).apply); "
            "use method='lanczos' for other models"
        )
    return method


def _elementwise_derivatives(fn: Callable, z: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``fn(z), fn'(z), fn''(z)`` of an elementwise function by nested forward-mode AD (the same
    derivatives that reverse-over-forward autodiff of the network sees, e.g. relu'' = 0)."""
    ones = jnp.ones_like(z)
    first = lambda u: jax.jvp(fn, (u,), (ones,))  # noqa: E731
    (value, d1), (_, d2) = jax.jvp(first, (z,), (ones,))
    return value, d1, d2


def shallow_spectral_norm(model: MLP, params, x: jax.Array, rtol: float = 0.0) -> SpectralNorm:
    """Exact ``||H||`` of every output of a one-hidden-layer ``mlp`` (Eq. 5 and Eq. 13).

    Pre-head output ``g_a = c_V sum_i V_ia sigma(z_i)`` with ``z_i = c_W w_i . x``, where ``c_W = 1/sqrt(d)``
    and ``c_V = 1/sqrt(m)`` in the NTK parameterisation and ``c_W = c_V = 1`` in the standard one
    (:meth:`MLP.layer_multiplier`); per neuron ``d^2 g_a / dw_i^2 = c_W^2 c_V V_ia sigma''(z_i) x x^T``,
    ``d^2 g_a / dw_i dV_ia = c_W c_V sigma'(z_i) x`` and ``d^2 g / dV^2 = 0``. The parameterisation only
    changes these constants, not the structure below. The output ``f_c = phi_c(g)`` (times the output
    scale alpha, which is part of ``phi`` here: ``p`` and ``S`` scale by alpha, so ``H`` does) has (Eq. 13)

        H_c = sum_a p_a H(g_a) + J^T S J,    p = d f_c / d g,  S = d^2 f_c / d g^2 (C x C),

    with J the C x p Jacobian of g. Every term acts on the span of the directions ``x / |x|`` of
    each ``w_i`` and the readout coordinates (if trained): on that reduced space of dimension
    ``m (1 + C)`` (``m`` with a frozen readout) H is block diagonal (``B``: one arrow block
    ``[[alpha_i, beta_i p^T], [beta_i p, 0]]`` per neuron) plus the rank <= C term ``U S U^T``; on the
    orthogonal complement (present when d > 1 or the readout is frozen) H is zero.

    * Linear head (S = 0): the eigenvalues are those of the 2 x 2 blocks,
      ``(alpha_i +- sqrt(alpha_i^2 + 4 beta_i^2 |p|^2)) / 2``, taken directly.
    * Non-linear heads: the extreme eigenvalues are found by bisection on the exact eigenvalue
      count of ``B + U S U^T - lambda`` (Haynsworth inertia of the bordered matrix
      ``[[B - lambda, U Q |Lambda|^1/2], [.., -sign(Lambda)]]``, ``S = Q Lambda Q^T``): per step one pass
      over the neurons, O(m C^2), and the inertia of a C x C matrix. It starts from the Weyl
      bracket ``lambda(B) +- ||Lambda|| ||U^T U||`` and runs to machine precision.

    ``rtol`` > 0 stops the bisection once its brackets are within ``rtol`` of the norm instead of machine
    precision: ``norm + residual`` is then still an upper bound of ``||H||`` (the bracket's end).

    Returns :class:`SpectralNorm` fields of shape (C,) (one Hessian per output), dtype of the
    parameters; see its docstring for ``residual`` and ``steps``.
    """
    W, V = params[layer_name(1)], params[READOUT]
    dtype = jnp.result_type(x, W, V)
    x, W, V = (jnp.asarray(a, dtype) for a in (x, W, V))
    d, m = W.shape
    C = V.shape[1]
    trainable = model.train_last_layer
    eps = jnp.finfo(dtype).eps
    stop = jnp.maximum(eps, jnp.asarray(rtol, dtype))  # relative bracket width where bisection stops
    tiny = jnp.finfo(dtype).tiny

    r2 = x @ x
    r = jnp.sqrt(r2)
    c_w, c_v = model.layer_multiplier(d, dtype), model.layer_multiplier(m, dtype)
    z = x @ W * c_w
    sig, sig1, sig2 = _elementwise_derivatives(ACTIVATIONS[model.activation], z)
    g = sig @ V * c_v  # (C,) pre-head outputs

    head = lambda u: model.output_scale * HEADS[model.head](u[None])[0]  # noqa: E731
    P = jax.jacfwd(head)(g)  # (C, C): row c = d f_c / d g
    S_all = jax.hessian(head)(g)  # (C, C, C): [c] = d^2 f_c / d g^2

    beta = sig1 * r * c_w * c_v  # (m,): d^2 g_a / ds_i dV_ia
    gamma = V * beta[:, None]  # (m, C): dg_a/ds_i
    w = sig * c_v if trainable else jnp.zeros_like(sig)  # (m,): dg_a / dV_ia
    gram = gamma.T @ gamma + jnp.sum(w**2) * jnp.eye(C, dtype=dtype)  # U^T U (C x C)
    curvature = sig2 * r2 * c_w**2 * c_v  # (m,): d^2 g_a / ds_i^2 / V_ia
    has_null = d > 1 or not trainable  # directions outside the reduced space: eigenvalue 0
    linear_head = model.head == "linear"

    def one_output(c):
        p, S = P[c], S_all[c]
        alpha = (V @ p) * curvature
        bp2 = beta**2 * (p @ p) if trainable else jnp.zeros_like(beta)
        root = jnp.sqrt(alpha**2 + 4 * bp2)
        top_b, bottom_b = jnp.max((alpha + root) / 2), jnp.min((alpha - root) / 2)
        if trainable and C > 1:  # V-coordinates orthogonal to p inside the reduced space
            top_b, bottom_b = jnp.maximum(top_b, 0), jnp.minimum(bottom_b, 0)
        if linear_head:
            lam_max, lam_min = top_b, bottom_b
            residual, iters = jnp.asarray(0.0, dtype), jnp.asarray(0, jnp.int32)
        else:
            lam_min, lam_max, residual, iters = _bisect_extremes(
                alpha, beta, bp2, gamma, w, p, S, gram, top_b, bottom_b, trainable, eps, tiny, stop
            )
        if has_null:
            lam_max, lam_min = jnp.maximum(lam_max, 0), jnp.minimum(lam_min, 0)
        norm = jnp.maximum(jnp.abs(lam_max), jnp.abs(lam_min))
        return SpectralNorm(norm, residual, lam_min, lam_max, iters)

    out = jax.lax.map(one_output, jnp.arange(C))
    param_dtype = ravel_pytree(params)[0].dtype
    return SpectralNorm(*(f if f.dtype == jnp.int32 else f.astype(param_dtype) for f in out))


def _bisect_extremes(alpha, beta, bp2, gamma, w, p, S, gram, top_b, bottom_b, trainable, eps, tiny, stop):
    """Extreme eigenvalues of ``A = B + U S U^T`` on the reduced space (see
    :func:`shallow_spectral_norm`) by bisection on exact eigenvalue counts, until each bracket is
    within ``stop`` (machine epsilon for full precision) relative to ``max(|lambda_min|, |lambda_max|)``,
    the scale of the norm (an extreme much smaller than the norm needs no finer bracket). Returns both
    estimates, the bound ``residual`` with ``max(|lambda_min|, |lambda_max|) <= norm + residual`` (the
    brackets' far ends) and the steps taken."""
    dtype = alpha.dtype
    m, C = gamma.shape
    Lam, Q = jnp.linalg.eigh(S)
    sign = jnp.where(Lam < 0, -1.0, 1.0).astype(dtype)
    Qs = Q * jnp.sqrt(jnp.abs(Lam))[None, :]  # U S U^T = (U Qs) diag(sign) (U Qs)^T
    n_pos, n_neg = jnp.sum(sign > 0), jnp.sum(sign < 0)
    rho = jnp.max(jnp.abs(Lam)) * jnp.linalg.eigvalsh(gram)[-1]  # Weyl: ||U S U^T|| <= rho
    sum_w2 = jnp.sum(w**2)
    gamma_q = gamma @ Qs  # (m, C)
    w_beta_pq = (w * beta)[:, None] * (p @ Qs)[None, :]  # (m, C)
    QsQs = Qs.T @ Qs

    def counts(lam):
        """(# eigenvalues of A above lam, # below lam), by Haynsworth inertia of the bordered
        matrix [[B - lam, U Qs], [Qs^T U^T, -diag(sign)]], whose Schur complements are A - lam and
        -diag(sign) - Qs^T U^T (B - lam)^{-1} U Qs (C x C). Scaling by sqrt|Lambda| (rather than
        bordering with -Lambda^{-1}) keeps numerically-null head curvature (softmax) harmless."""
        lam = jnp.where(lam == 0, tiny, lam)
        nudge = eps * jnp.abs(lam) + tiny  # lam exactly on a pole of B: count just beside it
        if trainable:
            s = alpha - lam + bp2 / lam  # Schur complement of each arrow block onto its w-row
            s = jnp.where(s == 0, nudge, s)
            q = gamma_q + w_beta_pq / lam
            G = (q / s[:, None]).T @ q - (sum_w2 / lam) * QsQs
            pos_b = jnp.sum(s > 0) + C * m * (lam < 0)
            neg_b = jnp.sum(s < 0) + C * m * (lam > 0)
        else:
            s = alpha - lam
            s = jnp.where(s == 0, nudge, s)
            G = (gamma_q / s[:, None]).T @ gamma_q
            pos_b, neg_b = jnp.sum(s > 0), jnp.sum(s < 0)
        small = -jnp.diag(sign) - G
        e = jnp.linalg.eigvalsh((small + small.T) / 2)
        return pos_b + jnp.sum(e > 0) - n_neg, neg_b + jnp.sum(e < 0) - n_pos

    # Weyl brackets [lambda(B) - rho, lambda(B) + rho], padded asymmetrically so that no early
    # midpoint falls on lambda(B) itself (a pole of the count's Schur complements)
    pad = 1e-3 * (jnp.abs(top_b) + jnp.abs(bottom_b) + rho) + tiny
    lo = jnp.stack([bottom_b - rho - pad, top_b - rho - pad])  # [lambda_min, lambda_max] brackets
    hi = jnp.stack([bottom_b + rho + 2 * pad, top_b + rho + 2 * pad])

    def not_done(carry):
        lo, hi, it = carry
        mid = (lo + hi) / 2
        # ||H|| = max(|lambda_min|, |lambda_max|) needs each extreme only to `stop` times ||H||'s scale
        scale = jnp.max(jnp.maximum(jnp.abs(lo), jnp.abs(hi)))
        open_ = (hi - lo > 2 * stop * scale) & (mid > lo) & (mid < hi)
        return jnp.any(open_) & (it < MAX_BISECTION_STEPS)

    def step(carry):
        lo, hi, it = carry
        mid = (lo + hi) / 2
        pos, neg = jax.vmap(counts)(mid)
        # lambda_min: some eigenvalue below mid -> it is at most mid; lambda_max: some above mid
        below_min = neg[0] >= 1
        above_max = pos[1] >= 1
        lo = jnp.stack([jnp.where(below_min, lo[0], mid[0]), jnp.where(above_max, mid[1], lo[1])])
        hi = jnp.stack([jnp.where(below_min, mid[0], hi[0]), jnp.where(above_max, hi[1], mid[1])])
        return lo, hi, it + 1

    lo, hi, iters = jax.lax.while_loop(not_done, step, (lo, hi, jnp.asarray(0, jnp.int32)))
    est = (lo + hi) / 2
    upper = jnp.max(jnp.maximum(jnp.abs(lo), jnp.abs(hi)))  # ||H|| lies below the brackets' far ends
    return est[0], est[1], upper - jnp.max(jnp.abs(est)), iters


@lru_cache(maxsize=32)
def _closed_form_fn(model: MLP, rtol: float = 0.0) -> Callable:
    return sized_jit(lambda params, x: shallow_spectral_norm(model, params, x, rtol))


# --------------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------------


def hessian_spectral_norm(
    apply: Callable,
    params,
    x: jax.Array,
    steps: int = DEFAULT_LANCZOS_STEPS,
    key: jax.Array | None = None,
    method: str = "auto",
    tol: float = DEFAULT_LANCZOS_TOL,
    rtol: float = 0.0,
) -> SpectralNorm:
    """``||H(w)|| = max |lambda|`` of ``d^2 f(w; x) / dw^2`` at a single input ``x`` (shape (d,)).

    For a model with C outputs every field has shape (C,): one Hessian per output (softmax heads,
    Eq. 13). ``method``: ``"closed_form"`` (exact, one-hidden-layer ``mlp`` only, see
    :func:`shallow_spectral_norm`), ``"subspace_lanczos"`` (any ``mlp``: Lanczos on the subspace of
    :func:`layer_subspace` that holds the range of H), ``"lanczos"`` (any ``apply(params, X)``, on all p
    parameters), or ``"auto"`` (the first of these that the model supports).

    Lanczos: at most ``steps`` iterations, capped at the dimension of the space it runs in (where
    the result is exact up to round-off), stopped early once the top Ritz residual is at most ``tol`` times the
    estimate (``tol=0`` always takes every step). Stopping only certifies that the estimate is
    within its residual of *an* eigenvalue; extreme eigenvalues converge first, and on the test and
    benchmark nets the default ``tol`` keeps ``norm`` within 1e-6 relative of the full run. ``key``
    seeds the random start vector (default: key 0). ``steps``, ``key`` and ``tol`` are ignored by
    the closed form. Closed form: ``rtol`` > 0 ends the bisection of a non-linear head at that relative
    bracket width instead of machine precision (``norm + residual`` stays an upper bound of ``||H||``);
    Lanczos ignores it.
    """
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"x must be a single input of shape (d,), got shape {x.shape}")
    if tol < 0 or rtol < 0:
        raise ValueError(f"tol and rtol must be >= 0, got tol={tol!r}, rtol={rtol!r}")
    method = _resolve_method(apply, method)
    if method == "closed_form":
        result = _closed_form_fn(apply.__self__, float(rtol))(params, x)
        return result if result.norm.shape[0] > 1 else SpectralNorm(*(field[0] for field in result))
    key = jax.random.key(0) if key is None else key
    out_shape = jax.eval_shape(apply, params, x[None]).shape
    n_out = out_shape[-1] if len(out_shape) == 2 else 1
    flat, _ = ravel_pytree(params)
    if method == "subspace_lanczos":
        dim = subspace_dimension(apply.__self__)
        steps = int(min(steps, dim))
        v0 = jax.random.normal(key, (dim,), flat.dtype)
        one_output = _subspace_lanczos_norm_fn(apply, steps, float(tol))
    else:
        steps = int(min(steps, flat.shape[0]))
        v0 = jax.random.normal(key, flat.shape, flat.dtype)
        one_output = _lanczos_norm_fn(apply, steps, float(tol))
    per_output = [one_output(params, x, c, v0) for c in range(n_out)]
    result = SpectralNorm(*(jnp.stack(field) for field in zip(*per_output)))
    return result if n_out > 1 else SpectralNorm(*(field[0] for field in result))
