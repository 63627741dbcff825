"""The Gram contractions of the factored tangent kernel (see :mod:`ntk_linearity.numerics.kernels`):

    K[(i, c), (j, c')] = sum_f  s_f * <G_f[i, c], G_f[j, c']> * <A_f[i], A_f[j]>

for dense factors, its spatial (convolution) form, the kernel change from the factor changes, the
diagonal, the change of the per-sample gradients, and the one-hidden-layer kernel streamed over
blocks of neurons (:func:`shallow_mlp_gram`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ntk_linearity.numerics.compiling import sized_jit
from ntk_linearity.numerics.models import ACTIVATIONS, HEADS, MLP, READOUT, layer_name

Factor = tuple[jax.Array, jax.Array, jax.Array]  # dense (G: (n, C, k), A: (n, r), scale)
# or spatial (G: (n, C, S, k), A: (n, S, r), scale): told apart by A.ndim (3 = spatial)
SPATIAL_BLOCK_ELEMENTS = 1 << 24  # floats per lax.map step of the position-Gram contraction
NEURON_BLOCK_ELEMENTS = 1 << 17  # floats of one (n*C, block) array of shallow_mlp_gram: cache-sized


def _uses_sample_gradients(n_a: int, n_b: int, G: jax.Array, A: jax.Array) -> bool:
    """Which exact contraction of a spatial factor is cheaper, by estimated flops (static shapes).

    Position Grams: ``Q = A_a A_b^T`` over position pairs, then ``sum_{p,q} Q (G_a G_b^T)``, about
    ``n_a n_b S^2 (r + C k) + n_a n_b S C^2 k``. Per-sample gradients ``J_i = A_i^T G_i`` (the weight
    gradient of sample i, ``(C, r*k)``) and their Gram: ``(n_a + n_b) S r k C + n_a n_b C^2 r k``.
    """
    _, C, S, k = G.shape
    r = A.shape[-1]
    positions = n_a * n_b * S * S * (r + C * k) + n_a * n_b * S * C * C * k
    gradients = (n_a + n_b) * S * r * k * C + n_a * n_b * C * C * r * k
    return gradients <= positions


def _sample_gradients(G: jax.Array, A: jax.Array) -> jax.Array:
    """``J_i = A_i^T G_i`` per sample and output, flattened: shape (n, C, r*k)."""
    J = jnp.einsum("nsr,ncsk->ncrk", A, G)
    return J.reshape(J.shape[0], J.shape[1], -1)


def _position_gram(Ga: jax.Array, Aa: jax.Array, Gb: jax.Array, Ab: jax.Array) -> jax.Array:
    """``sum_{p,q} <A_a[i,p], A_b[j,q]> <G_a[i,c,p], G_b[j,d,q]>``, shape (n_a, C, n_b, C).

    Loops (``lax.map``, batched) over the samples of ``a`` so that memory stays at about
    ``SPATIAL_BLOCK_ELEMENTS`` floats; per sample i it forms ``Q = A_i A_b^T`` (S, n_b, S), contracts
    it with ``G_b`` over q and then with ``G_i`` over (p, k).
    """
    n_b, S, _ = Ab.shape
    C, k = Gb.shape[1], Gb.shape[3]
    per_sample = S * n_b * S + S * n_b * C * k
    batch = max(1, min(Aa.shape[0], SPATIAL_BLOCK_ELEMENTS // per_sample))

    def one(args):
        A_i, G_i = args  # (S, r), (C, S, k)
        Q = jnp.einsum("pr,jqr->pjq", A_i, Ab)
        T = jnp.einsum("pjq,jdqk->pjdk", Q, Gb)
        return jnp.einsum("cpk,pjdk->cjd", G_i, T)

    return jax.lax.map(one, (Aa, Ga), batch_size=batch)


def _spatial_gram(Ga: jax.Array, Aa: jax.Array, Gb: jax.Array, Ab: jax.Array) -> jax.Array:
    """Unscaled Gram of a spatial (convolution) factor, shape (n_a, C, n_b, C): the cheaper of the
    two exact contractions (:func:`_uses_sample_gradients`)."""
    if _uses_sample_gradients(Aa.shape[0], Ab.shape[0], Ga, Aa):
        Ja = _sample_gradients(Ga, Aa)
        Jb = Ja if (Ga is Gb and Aa is Ab) else _sample_gradients(Gb, Ab)  # diagonal block: once
        return jnp.einsum("icx,jdx->icjd", Ja, Jb)
    return _position_gram(Ga, Aa, Gb, Ab)


def _spatial_gram_difference(Gta, Ata, G0a, A0a, Gtb, Atb, G0b, A0b) -> jax.Array:
    """Gram(t) - Gram(0) of a spatial factor from the factor changes (module docstring).

    Per-sample gradients: ``dJ = dA^T G_t + A_0^T dG`` and ``dJ_a J_tb^T + J_0a dJ_b^T``. Position
    Grams: the Gram is linear in each of its four arguments, so the difference is
    ``Gram(A_t, A_t; dG, G_t) + Gram(A_t, A_t; G_0, dG) + Gram(dA, A_t; G_0, G_0) + Gram(A_0, dA; G_0, G_0)``.
    """
    dGa, dGb, dAa, dAb = Gta - G0a, Gtb - G0b, Ata - A0a, Atb - A0b
    if _uses_sample_gradients(Ata.shape[0], Atb.shape[0], Gta, Ata):
        Jtb, J0a = _sample_gradients(Gtb, Atb), _sample_gradients(G0a, A0a)
        dJa = _sample_gradients(Gta, dAa) + _sample_gradients(dGa, A0a)
        dJb = _sample_gradients(Gtb, dAb) + _sample_gradients(dGb, A0b)
        return jnp.einsum("icx,jdx->icjd", dJa, Jtb) + jnp.einsum("icx,jdx->icjd", J0a, dJb)
    return (
        _position_gram(dGa, Ata, Gtb, Atb)
        + _position_gram(G0a, Ata, dGb, Atb)
        + _position_gram(G0a, dAa, G0b, Atb)
        + _position_gram(G0a, A0a, G0b, dAb)
    )


def _factor_grams(fa: list[Factor], fb: list[Factor]) -> list[tuple[jax.Array, jax.Array] | None]:
    """``(G_a G_b^T, A_a A_b^T)`` of every dense factor (``None`` for spatial ones)."""
    return [None if Aa.ndim == 3 else (jnp.einsum("ick,jdk->icjd", Ga, Gb), Aa @ Ab.T)
            for (Ga, Aa, _), (Gb, Ab, _) in zip(fa, fb)]


def _gram(fa: list[Factor], fb: list[Factor], grams=None) -> jax.Array:
    """sum_f s_f (G_a G_b^T) * (A_a A_b^T), shape (n_a, C, n_b, C); ``grams``: the dense factors'
    Grams when already known (:func:`_factor_grams`)."""
    grams = _factor_grams(fa, fb) if grams is None else grams
    total = 0.0
    for (Ga, Aa, s), (Gb, Ab, _), PQ in zip(fa, fb, grams):
        if PQ is None:
            total = total + s * _spatial_gram(Ga, Aa, Gb, Ab)
            continue
        P, Q = PQ
        total = total + s * P * Q[:, None, :, None]
    return total


def _gram_difference(
    ft_a: list[Factor], f0_a: list[Factor], ft_b: list[Factor], f0_b: list[Factor], grams0=None
) -> jax.Array:
    """Gram(t) - Gram(0) from the factor changes, without subtracting two rounded Grams.

    For a dense factor ``dP = dG_a G_tb^T + G_0a dG_b^T`` and ``dQ`` alike, and
    ``P_t Q_t - P_0 Q_0 = dP (Q_0 + dQ) + P_0 dQ``: two large contractions per side once the
    reference Grams ``grams0`` (:func:`_factor_grams` of ``f0_a, f0_b``) are known.
    """
    grams0 = _factor_grams(f0_a, f0_b) if grams0 is None else grams0
    total = 0.0
    for (Gta, Ata, s), (G0a, A0a, _), (Gtb, Atb, _), (G0b, A0b, _), PQ0 in zip(
        ft_a, f0_a, ft_b, f0_b, grams0
    ):
        if PQ0 is None:
            total = total + s * _spatial_gram_difference(Gta, Ata, G0a, A0a, Gtb, Atb, G0b, A0b)
            continue
        P0, Q0 = PQ0
        dP = jnp.einsum("ick,jdk->icjd", Gta - G0a, Gtb) + jnp.einsum(
            "ick,jdk->icjd", G0a, Gtb - G0b
        )
        dQ = (Ata - A0a) @ Atb.T + A0a @ (Atb - A0b).T
        total = total + s * (dP * (Q0 + dQ)[:, None, :, None] + P0 * dQ[:, None, :, None])
    return total


gram_jit = sized_jit(_gram)
# Diagonal blocks: a spatial factor's per-sample gradients are formed once (``Ga is Gb``).
gram_self_jit = sized_jit(lambda fa, grams=None: _gram(fa, fa, grams))
gram_difference_jit = sized_jit(_gram_difference)
factor_grams_self_jit = sized_jit(lambda fa: _factor_grams(fa, fa))


def has_spatial(fs: list[Factor]) -> bool:
    return any(A.ndim == 3 for _, A, _ in fs)


def _gradient_change_squared(ft: list[Factor], f0: list[Factor]) -> jax.Array:
    """``||g_x(t) - g_x(0)||^2`` per sample and output from dense factors, shape (n, C).

    A dense factor's gradient is ``sqrt(s) A_i (x) G_ic``; its change is ``dA (x) G_t + A_0 (x) dG``,
    whose squared norm ``|dA|^2 |G_t|^2 + 2 (dA . A_0)(G_t . dG) + |A_0|^2 |dG|^2`` involves only the
    changes, never the difference of two rounded squared norms."""
    total = 0.0
    for (Gt, At, s), (G0, A0, _) in zip(ft, f0):
        if At.ndim == 3:
            raise ValueError("gradient_change_norms supports dense layers (mlp, or the jacobian method), "
                             "not convolutional factors")
        dG, dA = Gt - G0, At - A0
        total = total + s * (jnp.sum(dA**2, -1)[:, None] * jnp.sum(Gt**2, -1)
                             + 2 * jnp.sum(dA * A0, -1)[:, None] * jnp.sum(Gt * dG, -1)
                             + jnp.sum(A0**2, -1)[:, None] * jnp.sum(dG**2, -1))
    return total


gradient_change_squared_jit = sized_jit(_gradient_change_squared)
def _spatial_diagonal(G: jax.Array, A: jax.Array) -> jax.Array:
    """``sum_{p,q} <A_i[p], A_i[q]> <G_ic[p], G_ic[q]> = ||A_i^T G_ic||_F^2``, shape (n, C): from the
    per-sample gradients (~ n S r k C flops) or per-sample position Grams (~ n S^2 (r + C k))."""
    _, C, S, k = G.shape
    r = A.shape[-1]
    if r * k * C <= S * (r + C * k):
        return jnp.sum(_sample_gradients(G, A) ** 2, axis=-1)
    batch = max(1, min(A.shape[0], SPATIAL_BLOCK_ELEMENTS // (S * S + C * S * k)))

    def one(args):
        A_i, G_i = args  # (S, r), (C, S, k)
        Q = A_i @ A_i.T
        return jnp.einsum("cpk,pq,cqk->c", G_i, Q, G_i)

    return jax.lax.map(one, (A, G), batch_size=batch)


def _factor_diagonal(fs: list[Factor]) -> jax.Array:
    return sum(
        s * _spatial_diagonal(G, A)
        if A.ndim == 3
        else s * jnp.sum(G**2, axis=-1) * jnp.sum(A**2, axis=-1)[:, None]
        for G, A, s in fs
    )


factor_diagonal_jit = sized_jit(_factor_diagonal)


def _neuron_block_sums(model: MLP, params, X: jax.Array, size: int):
    """One pass over the hidden neurons in blocks of ``size`` (``lax.scan``, then the remainder):
    the pre-head output ``f`` (n, C), ``M[(i,o),(j,o')] = sum_k V_ko s'(z_ik) V_ko' s'(z_jk)`` (nC, nC)
    and ``Q = sum_k s(z_ik) s(z_jk)`` (n, n); ``z = c_1 X W``, s the activation."""
    W, V = params[layer_name(1)], params[READOUT]
    (d, m), (n, C) = W.shape, (X.shape[0], V.shape[1])
    c1, c2 = model.layer_multiplier(d, X.dtype), model.layer_multiplier(m, X.dtype)
    sigma = ACTIVATIONS[model.activation]

    def add(sums, block):
        Wb, Vb = block
        a, da = jax.jvp(sigma, (c1 * (X @ Wb),), (jnp.ones((n, Wb.shape[1]), X.dtype),))
        B = (da[:, None, :] * Vb.T[None]).reshape(n * C, -1)
        return (sums[0] + c2 * (a @ Vb), sums[1] + B @ B.T, sums[2] + a @ a.T), None

    zeros = (jnp.zeros((n, C), X.dtype), jnp.zeros((n * C, n * C), X.dtype), jnp.zeros((n, n), X.dtype))
    full = (m // size) * size
    blocks = (W[:, :full].reshape(d, -1, size).transpose(1, 0, 2), V[:full].reshape(-1, size, C))
    sums, _ = jax.lax.scan(add, zeros, blocks)
    return add(sums, (W[:, full:], V[full:]))[0] if full < m else sums


def shallow_mlp_gram(model: MLP, params, X: jax.Array) -> jax.Array:
    """The structured kernel of a one-hidden-layer ``mlp`` (shape (n, C, n, C)) without its (n, m)
    factors: ``K = s_1 P * (X X^T) + s_2 (J J^T) * Q`` with ``J`` the head's Jacobian at f (times the
    output scale), ``P = c_2^2 J M J^T`` and M, Q of :func:`_neuron_block_sums`, streamed over blocks
    of neurons small enough to stay in cache: the two (n x m)(m x n) Grams and the activations at
    the speed of cache-resident products, in O(n*block) memory. Equal to ``_gram`` of the model's
    ``kernel_factors`` up to the order of the float sums."""
    X = jnp.asarray(X, jnp.result_type(X, *params.values()))
    (n, d), (m, C) = X.shape, params[READOUT].shape
    size = max(1, min(m, NEURON_BLOCK_ELEMENTS // (n * C)))
    f, M, Q = _neuron_block_sums(model, params, X, size)
    head = lambda g: model.output_scale * HEADS[model.head](g)  # noqa: E731
    J = jax.vmap(jax.jacfwd(head))(f)  # (n, C, C): d out_c / d f_o
    c2 = model.layer_multiplier(m, X.dtype)
    P = c2**2 * jnp.einsum("ico,iojp,jdp->icjd", J, M.reshape(n, C, n, C), J)
    K = model.kernel_scale(d, X.dtype) * P * (X @ X.T)[:, None, :, None]
    if model.train_last_layer:
        K = K + model.kernel_scale(m, X.dtype) * jnp.einsum("ico,jdo->icjd", J, J) * Q[:, None, :, None]
    return K
