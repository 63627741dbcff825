"""The exact spectral norm of the model Hessian of a one-hidden-layer ``mlp`` (paper Eq. 5, 13, 14).

Per neuron the Hessian of the pre-head output is a rank-two arrow block (Eq. 5); a non-linear head
adds the low-rank term ``J^T S J`` of Eq. 13. ``||H||`` is computed exactly in O(m d + m C^2) time per
bisection step: see :func:`shallow_spectral_norm`.
"""

from __future__ import annotations

import functools
from functools import lru_cache
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from ntk_linearity.numerics.compiling import sized_jit
from ntk_linearity.numerics.lanczos import SpectralNorm
from ntk_linearity.numerics.models import ACTIVATIONS, HEADS, MLP, READOUT, layer_name

MAX_BISECTION_STEPS = 200


class _Precision(NamedTuple):
    """Machine epsilon and smallest normal number of the dtype, and the relative bracket width where
    the bisection stops (at least epsilon)."""

    eps: jax.Array
    tiny: jax.Array
    stop: jax.Array


class _Structure(NamedTuple):
    """Static facts of the network: a trained readout, directions outside the reduced space (the
    eigenvalue 0: d > 1 or a frozen readout), a linear head (S = 0)."""

    trainable: bool
    has_null: bool
    linear_head: bool


class _Neurons(NamedTuple):
    """The network at one input on the reduced space of :func:`shallow_spectral_norm`
    (``s_i`` the coordinate of ``w_i`` along ``x / |x|``)."""

    V: jax.Array  # (m, C) readout
    beta: jax.Array  # (m,): d^2 g_a / ds_i dV_ia
    gamma: jax.Array  # (m, C): dg_a / ds_i
    w: jax.Array  # (m,): dg_a / dV_ia (zero with a frozen readout)
    gram: jax.Array  # (C, C): U^T U
    curvature: jax.Array  # (m,): d^2 g_a / ds_i^2 / V_ia
    P: jax.Array  # (C, C): row c = d f_c / d g
    S_all: jax.Array  # (C, C, C): [c] = d^2 f_c / d g^2


class _Arrows(NamedTuple):
    """The arrow blocks ``[[alpha_i, beta_i p^T], [beta_i p, 0]]`` of one output (``bp2 = beta_i^2 |p|^2``)
    and the extreme eigenvalues of their direct sum B."""

    alpha: jax.Array
    bp2: jax.Array
    top: jax.Array
    bottom: jax.Array


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
    eps = jnp.finfo(dtype).eps
    precision = _Precision(eps, jnp.finfo(dtype).tiny, jnp.maximum(eps, jnp.asarray(rtol, dtype)))
    trainable = model.train_last_layer
    structure = _Structure(trainable, W.shape[0] > 1 or not trainable, model.head == "linear")
    one_output = functools.partial(_one_output, _neurons(model, x, W, V), structure, precision)
    out = jax.lax.map(one_output, jnp.arange(V.shape[1]))
    param_dtype = ravel_pytree(params)[0].dtype
    return SpectralNorm(*(f if f.dtype == jnp.int32 else f.astype(param_dtype) for f in out))


def _neurons(model: MLP, x: jax.Array, W: jax.Array, V: jax.Array) -> _Neurons:
    """The per-neuron quantities of Eq. 5 and the head's derivatives of Eq. 13 at input ``x``."""
    d, m = W.shape
    C = V.shape[1]
    r2 = x @ x
    r = jnp.sqrt(r2)
    c_w, c_v = model.layer_multiplier(d, x.dtype), model.layer_multiplier(m, x.dtype)
    z = x @ W * c_w
    sig, sig1, sig2 = _elementwise_derivatives(ACTIVATIONS[model.activation], z)
    g = sig @ V * c_v  # (C,) pre-head outputs
    head = lambda u: model.output_scale * HEADS[model.head](u[None])[0]  # noqa: E731
    beta = sig1 * r * c_w * c_v
    gamma = V * beta[:, None]
    w = sig * c_v if model.train_last_layer else jnp.zeros_like(sig)
    gram = gamma.T @ gamma + jnp.sum(w**2) * jnp.eye(C, dtype=x.dtype)
    curvature = sig2 * r2 * c_w**2 * c_v
    return _Neurons(V, beta, gamma, w, gram, curvature, jax.jacfwd(head)(g), jax.hessian(head)(g))


def _arrows(neurons: _Neurons, p: jax.Array, trainable: bool) -> _Arrows:
    """The arrow blocks of the output with head gradient ``p``: eigenvalues
    ``(alpha_i +- sqrt(alpha_i^2 + 4 beta_i^2 |p|^2)) / 2``, and 0 on the readout coordinates orthogonal
    to ``p`` (C > 1)."""
    alpha = (neurons.V @ p) * neurons.curvature
    bp2 = neurons.beta**2 * (p @ p) if trainable else jnp.zeros_like(neurons.beta)
    root = jnp.sqrt(alpha**2 + 4 * bp2)
    top, bottom = jnp.max((alpha + root) / 2), jnp.min((alpha - root) / 2)
    if trainable and neurons.V.shape[1] > 1:  # V-coordinates orthogonal to p inside the reduced space
        top, bottom = jnp.maximum(top, 0), jnp.minimum(bottom, 0)
    return _Arrows(alpha, bp2, top, bottom)


def _one_output(neurons: _Neurons, structure: _Structure, precision: _Precision, c: jax.Array) -> SpectralNorm:
    """``||H_c||`` of output ``c``: from the arrow blocks (linear head) or by bisection."""
    p, S = neurons.P[c], neurons.S_all[c]
    arrows = _arrows(neurons, p, structure.trainable)
    if structure.linear_head:
        lam_max, lam_min = arrows.top, arrows.bottom
        residual, iters = jnp.asarray(0.0, neurons.beta.dtype), jnp.asarray(0, jnp.int32)
    else:
        lam_min, lam_max, residual, iters = _bisect_extremes(neurons, arrows, p, S, structure.trainable, precision)
    if structure.has_null:
        lam_max, lam_min = jnp.maximum(lam_max, 0), jnp.minimum(lam_min, 0)
    norm = jnp.maximum(jnp.abs(lam_max), jnp.abs(lam_min))
    return SpectralNorm(norm, residual, lam_min, lam_max, iters)


class _Bordered(NamedTuple):
    """What the eigenvalue counts of ``A = B + U S U^T`` need, with ``S = Q Lambda Q^T`` and
    ``Qs = Q |Lambda|^1/2`` (so ``U S U^T = (U Qs) diag(sign) (U Qs)^T``)."""

    arrows: _Arrows
    gamma_q: jax.Array  # (m, C): gamma Qs
    w_beta_pq: jax.Array  # (m, C): w_i beta_i (p Qs)
    QsQs: jax.Array  # (C, C)
    sum_w2: jax.Array
    sign: jax.Array  # (C,): sign(Lambda)
    n_pos: jax.Array
    n_neg: jax.Array


def _bordered(neurons: _Neurons, arrows: _Arrows, p: jax.Array, S: jax.Array) -> tuple[_Bordered, jax.Array]:
    """The factors of the bordered matrix and ``rho`` of Weyl's bound ``||U S U^T|| <= rho``."""
    Lam, Q = jnp.linalg.eigh(S)
    sign = jnp.where(Lam < 0, -1.0, 1.0).astype(arrows.alpha.dtype)
    Qs = Q * jnp.sqrt(jnp.abs(Lam))[None, :]  # U S U^T = (U Qs) diag(sign) (U Qs)^T
    n_pos, n_neg = jnp.sum(sign > 0), jnp.sum(sign < 0)
    rho = jnp.max(jnp.abs(Lam)) * jnp.linalg.eigvalsh(neurons.gram)[-1]  # Weyl: ||U S U^T|| <= rho
    sum_w2 = jnp.sum(neurons.w**2)
    gamma_q = neurons.gamma @ Qs  # (m, C)
    w_beta_pq = (neurons.w * neurons.beta)[:, None] * (p @ Qs)[None, :]  # (m, C)
    return _Bordered(arrows, gamma_q, w_beta_pq, Qs.T @ Qs, sum_w2, sign, n_pos, n_neg), rho


def _counts(b: _Bordered, lam: jax.Array, trainable: bool, precision: _Precision) -> tuple[jax.Array, jax.Array]:
    """(# eigenvalues of A above lam, # below lam), by Haynsworth inertia of the bordered matrix
    [[B - lam, U Qs], [Qs^T U^T, -diag(sign)]], whose Schur complements are A - lam and
    -diag(sign) - Qs^T U^T (B - lam)^{-1} U Qs (C x C). Scaling by sqrt|Lambda| (rather than
    bordering with -Lambda^{-1}) keeps numerically-null head curvature (softmax) harmless."""
    m, C = b.gamma_q.shape
    alpha, tiny = b.arrows.alpha, precision.tiny
    lam = jnp.where(lam == 0, tiny, lam)
    nudge = precision.eps * jnp.abs(lam) + tiny  # lam exactly on a pole of B: count just beside it
    if trainable:
        s = alpha - lam + b.arrows.bp2 / lam  # Schur complement of each arrow block onto its w-row
        s = jnp.where(s == 0, nudge, s)
        q = b.gamma_q + b.w_beta_pq / lam
        G = (q / s[:, None]).T @ q - (b.sum_w2 / lam) * b.QsQs
        pos_b = jnp.sum(s > 0) + C * m * (lam < 0)
        neg_b = jnp.sum(s < 0) + C * m * (lam > 0)
    else:
        s = alpha - lam
        s = jnp.where(s == 0, nudge, s)
        G = (b.gamma_q / s[:, None]).T @ b.gamma_q
        pos_b, neg_b = jnp.sum(s > 0), jnp.sum(s < 0)
    small = -jnp.diag(b.sign) - G
    e = jnp.linalg.eigvalsh((small + small.T) / 2)
    return pos_b + jnp.sum(e > 0) - b.n_neg, neg_b + jnp.sum(e < 0) - b.n_pos


def _bisect_extremes(neurons: _Neurons, arrows: _Arrows, p: jax.Array, S: jax.Array, trainable: bool,
                     precision: _Precision):
    """Extreme eigenvalues of ``A = B + U S U^T`` on the reduced space (see
    :func:`shallow_spectral_norm`) by bisection on exact eigenvalue counts, until each bracket is
    within ``precision.stop`` relative to ``max(|lambda_min|, |lambda_max|)``, the scale of the norm
    (an extreme much smaller than the norm needs no finer bracket). Returns both estimates, the bound
    ``residual`` with ``max(|lambda_min|, |lambda_max|) <= norm + residual`` (the brackets' far ends)
    and the steps taken."""
    bordered, rho = _bordered(neurons, arrows, p, S)
    # Weyl brackets [lambda(B) - rho, lambda(B) + rho], padded asymmetrically so that no early
    # midpoint falls on lambda(B) itself (a pole of the count's Schur complements)
    pad = 1e-3 * (jnp.abs(arrows.top) + jnp.abs(arrows.bottom) + rho) + precision.tiny
    lo = jnp.stack([arrows.bottom - rho - pad, arrows.top - rho - pad])  # [lambda_min, lambda_max] brackets
    hi = jnp.stack([arrows.bottom + rho + 2 * pad, arrows.top + rho + 2 * pad])
    lo, hi, iters = _bisect(lambda lam: _counts(bordered, lam, trainable, precision), lo, hi, precision.stop)
    est = (lo + hi) / 2
    upper = jnp.max(jnp.maximum(jnp.abs(lo), jnp.abs(hi)))  # ||H|| lies below the brackets' far ends
    return est[0], est[1], upper - jnp.max(jnp.abs(est)), iters


def _bisect(counts: Callable, lo: jax.Array, hi: jax.Array, stop: jax.Array):
    """Bisect the brackets ``[lo, hi]`` of ``[lambda_min, lambda_max]`` on the eigenvalue ``counts``
    until each is within ``stop`` of the norm's scale (or ``MAX_BISECTION_STEPS``)."""

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

    return jax.lax.while_loop(not_done, step, (lo, hi, jnp.asarray(0, jnp.int32)))


@lru_cache(maxsize=32)
def closed_form_fn(model: MLP, rtol: float) -> Callable:
    """Jitted ``(params, x) -> SpectralNorm`` of :func:`shallow_spectral_norm`, compiled once per model."""
    return sized_jit(lambda params, x: shallow_spectral_norm(model, params, x, rtol))
