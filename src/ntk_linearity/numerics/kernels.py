"""The empirical tangent kernel K(w) of Eq. 1 and its change K(w_t) - K(w_0).

Both methods write the kernel as a sum of factored Gram products,

    K[(i, c), (j, c')] = sum_f  s_f * <G_f[i, c], G_f[j, c']> * <A_f[i], A_f[j]>,

* ``structured``: one factor per dense layer, ``G = df/dz`` and ``A`` the layer input
  (:meth:`~ntk_linearity.numerics.models.MLP.kernel_factors`): O(n*m) memory;
* ``structured`` for convolutions (:mod:`ntk_linearity.numerics.conv`): a *spatial* factor per
  convolution, ``A`` the input patches ``(n, S, r)`` and ``G = df/dz`` ``(n, C, S, k)`` over S output
  positions, contributing ``s * sum_{p,q} <G[i, c, p], G[j, c', q]> <A[i, p], A[j, q]>``; see
  :mod:`ntk_linearity.numerics.gram` for its two exact contractions;
* ``jacobian``: one factor per parameter array, ``G`` its per-sample Jacobian and ``A = 1``: general,
  O(chunk*p) memory, chunked over samples.

Rows are ordered ``sample * C + output`` for C outputs. Kernel *differences* use the identity
``P_t Q_t - P_0 Q_0 = (P_t - P_0) Q_t + P_0 (Q_t - Q_0)`` with ``P_t - P_0 = dG G_t^T + G_0 dG^T``, so the
change is computed from the parameter-induced change of the factors and never as the difference of
two large, separately rounded kernels (:func:`delta_k_noise_floor` measures the float32 round-off).
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntk_linearity.numerics.compiling import one_shot, sized_jit
from ntk_linearity.numerics.gram import (
    Factor,
    factor_diagonal_jit,
    factor_grams_self_jit,
    gradient_change_squared_jit,
    gram_difference_jit,
    gram_jit,
    gram_self_jit,
    has_spatial,
    shallow_mlp_gram,
)
from ntk_linearity.numerics.models import MLP, cache_per_model

METHODS = ("auto", "structured", "jacobian")
DEFAULT_MEMORY_BUDGET_BYTES = 2 * 1024**3


def supports_structured(apply: Callable) -> bool:
    """True when ``apply`` is the bound ``apply`` of a model exposing ``kernel_factors``."""
    return hasattr(getattr(apply, "__self__", None), "kernel_factors")


def _resolve_method(apply: Callable, method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    if method == "auto":
        return "structured" if supports_structured(apply) else "jacobian"
    if method == "structured" and not supports_structured(apply):
        raise ValueError(
            "method 'structured' needs the bound apply of a model with kernel_factors "
            "(e.g. ntk_linearity.mlp(...).apply or cnn(...).apply); use method='jacobian' for other "
            "models"
        )
    return method


def _n_outputs(apply: Callable, params, X: jax.Array) -> int:
    shape = jax.eval_shape(apply, params, X[:1]).shape
    return 1 if len(shape) == 1 else int(shape[-1])


def _jacobian_factors(apply: Callable, params, X: jax.Array) -> list[Factor]:
    """One factor per parameter array: the per-sample Jacobian, shape (n, C, size)."""
    n_out = _n_outputs(apply, params, X)

    def single(p, x):
        return jnp.reshape(apply(p, x[None]), (n_out,))

    jac = jax.vmap(jax.jacrev(single), in_axes=(None, 0))(params, X)
    ones = jnp.ones((X.shape[0], 1), X.dtype)
    one = jnp.asarray(1.0, X.dtype)
    return [(jnp.reshape(J, (X.shape[0], n_out, -1)), ones, one) for J in jax.tree.leaves(jac)]


def _is_shallow_mlp(apply: Callable) -> bool:
    model = getattr(apply, "__self__", None)
    return isinstance(model, MLP) and len(model.widths) == 1


@cache_per_model(maxsize=16)
def _shallow_gram_fn(apply: Callable) -> Callable[[object, jax.Array], jax.Array]:
    """Jitted :func:`~ntk_linearity.numerics.gram.shallow_mlp_gram` of the model, cached per model."""
    return sized_jit(partial(shallow_mlp_gram, apply.__self__))


@cache_per_model(maxsize=64)
def _factor_fn(apply: Callable, method: str) -> Callable[[object, jax.Array], list[Factor]]:
    """Jitted factor function, cached per (apply, method) so repeated kernels compile once."""
    if method == "structured":
        model = apply.__self__
        return sized_jit(model.kernel_factors)
    return sized_jit(lambda p, X: _jacobian_factors(apply, p, X))


def _chunk_size(apply: Callable, params, X: jax.Array, method: str, memory_budget: int) -> int:
    """Samples per chunk so that two chunks of factors fit in ``memory_budget`` bytes."""
    if method == "structured":
        return X.shape[0]
    p = sum(leaf.size for leaf in jax.tree.leaves(params))
    per_sample = 2 * p * _n_outputs(apply, params, X) * X.dtype.itemsize
    return max(1, min(X.shape[0], memory_budget // max(per_sample, 1)))


def _chunks(X: jax.Array, size: int) -> list[tuple[jax.Array, int]]:
    """Equal-size chunks (the last one zero-padded, so jit compiles once) with their true lengths."""
    n = X.shape[0]
    pad = (-n) % size
    Xp = jnp.concatenate([X, jnp.zeros((pad, *X.shape[1:]), X.dtype)]) if pad else X
    return [(Xp[i : i + size], min(size, n - i)) for i in range(0, n, size)]


def _as_matrix(K: jax.Array) -> jax.Array:
    """(n_a, C, n_b, C) -> (n_a*C, n_b*C), rows ``sample * C + output``."""
    n_a, C, n_b, _ = K.shape
    return K.reshape(n_a * C, n_b * C)


def _blocked(
    compute_block: Callable[[int, int], jax.Array],
    chunks_a: list[tuple[jax.Array, int]],
    chunks_b: list[tuple[jax.Array, int]],
    symmetric: bool,
) -> jax.Array:
    """Assemble the (n_a*C, n_b*C) kernel from blocks; symmetric inputs compute only j >= i."""
    rows = []
    blocks: dict[tuple[int, int], jax.Array] = {}
    for i, (_, len_a) in enumerate(chunks_a):
        row = []
        for j, (_, len_b) in enumerate(chunks_b):
            if symmetric and j < i:
                block = jnp.transpose(blocks[(j, i)], (2, 3, 0, 1))
            else:
                block = compute_block(i, j)[:len_a, :, :len_b, :]
                blocks[(i, j)] = block
            row.append(block)
        rows.append(jnp.concatenate(row, axis=2))
    return _as_matrix(jnp.concatenate(rows, axis=0))


def empirical_ntk(
    apply: Callable,
    params,
    X: jax.Array,
    X2: jax.Array | None = None,
    method: str = "auto",
    chunk_size: int | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET_BYTES,
) -> jax.Array:
    """Tangent kernel ``K_(x,z)(w) = grad_w f(w; x)^T grad_w f(w; z)`` of Eq. 1.

    Shape ``(n, n2)`` for one output, ``(n*C, n2*C)`` for C outputs with row ``sample*C + output``.
    ``method``: ``"structured"`` (per-layer identity: ``mlp``, ``cnn`` and ``resnet`` models), ``"jacobian"`` (any
    ``apply(params, X)``; chunked over samples so that memory stays within ``memory_budget``), or
    ``"auto"`` (structured when the model supports it).
    """
    method = _resolve_method(apply, method)
    symmetric = X2 is None
    if method == "structured" and symmetric and chunk_size is None:  # one program for every K(w)
        if _is_shallow_mlp(apply):  # streamed over blocks of neurons, no (n, m) factors
            return _as_matrix(_shallow_gram_fn(apply)(params, X))
        return kernel_reference(apply, params, X, method).kernel
    factors = _factor_fn(apply, method)
    size = chunk_size or _chunk_size(apply, params, X, method, memory_budget)
    chunks_a = _chunks(X, size)
    chunks_b = chunks_a if symmetric else _chunks(X2, size)

    @lru_cache(maxsize=2)
    def factor(chunks_id: int, k: int) -> list[Factor]:
        return factors(params, (chunks_a, chunks_b)[chunks_id][k][0])

    def block(i: int, j: int) -> jax.Array:
        fa = factor(0, i)
        if symmetric and i == j and has_spatial(fa):  # (mlp blocks keep their original program)
            return gram_self_jit(fa)
        return gram_jit(fa, factor(int(not symmetric), j))

    return _blocked(
        block,
        chunks_a,
        chunks_b,
        symmetric,
    )


class KernelReference(NamedTuple):
    """The tangent kernel at a reference point ``w_ref`` and the kernel change from it.

    ``kernel``: ``K(w_ref)`` on ``X`` (as :func:`empirical_ntk`); ``difference(params)``:
    ``K(params) - K(w_ref)`` (as :func:`kernel_difference`). With the structured method the factors
    and Grams at ``w_ref`` are computed once, so a training run's kernel snapshots each cost the
    factors at ``w_t`` and two large contractions per factor side.
    """

    kernel: jax.Array
    difference: Callable[[object], jax.Array]


def kernel_reference(
    apply: Callable,
    params_ref,
    X: jax.Array,
    method: str = "auto",
    memory_budget: int = DEFAULT_MEMORY_BUDGET_BYTES,
) -> KernelReference:
    """``K(w_ref)`` and ``w -> K(w) - K(w_ref)`` on ``X`` (see :class:`KernelReference`).

    The Jacobian method keeps nothing between calls (its factors are O(n p)): ``difference`` is
    :func:`kernel_difference` chunked within ``memory_budget``.
    """
    method = _resolve_method(apply, method)
    if method != "structured":
        return KernelReference(
            empirical_ntk(apply, params_ref, X, method=method, memory_budget=memory_budget),
            lambda params: kernel_difference(apply, params, params_ref, X, method=method,
                                             memory_budget=memory_budget),
        )
    factors = _factor_fn(apply, method)
    f0 = factors(params_ref, X)
    grams0 = factor_grams_self_jit(f0)

    def difference(params) -> jax.Array:
        ft = factors(params, X)
        return _as_matrix(gram_difference_jit(ft, f0, ft, f0, grams0))

    return KernelReference(_as_matrix(gram_self_jit(f0, grams0)), difference)


def kernel_difference(
    apply: Callable,
    params,
    params_ref,
    X: jax.Array,
    method: str = "auto",
    chunk_size: int | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET_BYTES,
) -> jax.Array:
    """``K(params) - K(params_ref)`` on ``X``, computed from factor changes (see module docstring).

    For several kernel changes from one reference use :func:`kernel_reference`."""
    method = _resolve_method(apply, method)
    if method == "structured" and chunk_size is None:
        return kernel_reference(apply, params_ref, X, method).difference(params)
    factors = _factor_fn(apply, method)
    size = chunk_size or _chunk_size(apply, params, X, method, memory_budget // 2)
    chunks = _chunks(X, size)

    @lru_cache(maxsize=4)
    def factor(which: int, k: int) -> list[Factor]:
        return factors((params, params_ref)[which], chunks[k][0])

    def block(i: int, j: int) -> jax.Array:
        return gram_difference_jit(factor(0, i), factor(1, i), factor(0, j), factor(1, j))

    return _blocked(block, chunks, chunks, symmetric=True)




def gradient_change_norms(apply: Callable, params, params_ref, X: jax.Array, method: str = "auto") -> jax.Array:
    """``||grad_w f(params; x) - grad_w f(params_ref; x)||`` for every row of ``X`` (and output): shape
    (n,) or (n, C), from the per-layer factors (the same identity as :func:`kernel_difference`)."""
    method = _resolve_method(apply, method)
    factors = _factor_fn(apply, method)
    squared = gradient_change_squared_jit(factors(params, X), factors(params_ref, X))
    norms = jnp.sqrt(jnp.maximum(squared, 0.0))
    return norms[:, 0] if norms.shape[1] == 1 else norms


def relative_kernel_change(delta_K: jax.Array, K_ref: jax.Array) -> float:
    """``||K_t - K_0||_F / ||K_0||_F``, the quantity whose sup over t is Delta K (Section 6)."""
    return float(jnp.linalg.norm(delta_K) / jnp.linalg.norm(K_ref))



def ntk_diagonal(
    apply: Callable,
    params,
    X: jax.Array,
    method: str = "auto",
    memory_budget: int = DEFAULT_MEMORY_BUDGET_BYTES,
) -> jax.Array:
    """``K_(x,x)(w) = ||grad_w f(w; x)||^2`` for every row of ``X`` (Eq. 6, 12): shape (n,) or (n, C)."""
    method = _resolve_method(apply, method)
    factors = _factor_fn(apply, method)
    size = _chunk_size(apply, params, X, method, memory_budget)
    diag = jnp.concatenate(
        [factor_diagonal_jit(factors(params, Xc))[:length] for Xc, length in _chunks(X, size)]
    )
    return diag[:, 0] if diag.shape[1] == 1 else diag


class NoiseFloor(NamedTuple):
    """How far float32 round-off can be trusted for Delta K (module docstring).

    ``delta_k_float32`` / ``delta_k_float64``: ``||K(w) - K(w_ref)||_F / ||K(w_ref)||_F`` from float32
    parameters, evaluated in float32 and in float64; ``estimator_error``: their gap, the round-off of
    the reported Delta K; ``kernel_rounding``: ``||K32 - K64||_F / ||K64||_F`` at ``w_ref``, the floor
    that a naive subtraction of two float32 kernels would have.
    """

    delta_k_float32: float
    delta_k_float64: float
    estimator_error: float
    kernel_rounding: float


def delta_k_noise_floor(
    apply: Callable, params, params_ref, X: jax.Array, method: str = "auto", float32=None
) -> NoiseFloor:
    """Measure the float32 noise floor of Delta K by repeating the computation in float64.

    ``float32``: ``(K(w_ref), Delta K)`` when the caller already has them from the float32 programs of
    :func:`kernel_reference` (as :func:`~ntk_linearity.numerics.training.gradient_descent` does: its first
    kernel and its last kernel change, divided in the same way); only the float64 side is then computed."""

    def measure(params, params_ref, X):
        reference = kernel_reference(apply, params_ref, X, method=method)
        dK = reference.difference(params)
        return reference.kernel, float(jnp.linalg.norm(dK)) / float(jnp.linalg.norm(reference.kernel))

    K32, dk32 = measure(params, params_ref, X) if float32 is None else (jnp.asarray(float32[0]), float(float32[1]))
    with jax.enable_x64(True), one_shot():  # float64 programs that run once per shape
        to64 = lambda tree: jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)  # noqa: E731
        K64, dk64 = measure(to64(params), to64(params_ref), to64(X))
        rounding = float(jnp.linalg.norm(K32.astype(jnp.float64) - K64) / jnp.linalg.norm(K64))
    return NoiseFloor(dk32, dk64, abs(dk32 - dk64), rounding)


class KernelSpectrum(NamedTuple):
    """Extreme eigenvalues of ``K(w_t)/n`` at each snapshot t (shape ``(S,)`` each)."""

    lambda_max: np.ndarray  # lambda_max(K_t/n): eta * lambda_max < 2 is the linearised stability limit
    lambda_min: np.ndarray  # lambda_min(K_t/n) on the residuals' space: the PL constant of Theorem 5.1


def _simplex_residuals_basis(n_samples: int, n_outputs: int) -> np.ndarray:
    """Orthonormal basis ``(nC, n(C-1))`` of the residuals whose C outputs sum to zero for every
    sample (row ``sample*C + output``, as :func:`empirical_ntk` orders them)."""
    centred = np.eye(n_outputs) - 1.0 / n_outputs
    basis = np.linalg.svd(centred)[0][:, : n_outputs - 1]  # the C-1 directions orthogonal to (1,..,1)
    return np.kron(np.eye(n_samples), basis)


def kernel_spectrum(kernels, n_samples: int, outputs_sum_to_one: bool = False) -> KernelSpectrum:
    """lambda_max and lambda_min of ``K/n`` for a stack of kernels ``(S, nC, nC)`` (or one ``(nC, nC)``),
    in float64 (the kernels are small: n C rows; numpy's LAPACK, no compilation).

    For the square loss ``L = (1/2n) sum_i ||f(x_i) - y_i||^2`` a GD step maps the residual r to
    ``(I - (eta/n) K) r`` to first order, so ``eta * lambda_max(K/n) < 2`` is the linearised stability
    limit, and ``||grad L||^2 = r^T K r / n^2 >= 2 lambda_min(K/n) L``: lambda_min is the PL constant
    mu of Theorem 5.1 in this normalisation, ``L_{t+1} <= (1 - eta mu) L_t`` (Eq. 15).

    With ``outputs_sum_to_one`` (a softmax head, :data:`~ntk_linearity.numerics.models.SIMPLEX_HEADS`)
    K has n exact null directions (the C outputs of a sample moved together) that no residual
    ``p - y`` has a component along, so lambda_min is taken on their orthogonal complement (the
    residuals whose outputs sum to zero per sample): the smallest eigenvalue that governs convergence.
    """
    K = np.asarray(kernels, np.float64) / n_samples
    K = K[None] if K.ndim == 2 else K
    lambda_max = np.linalg.eigvalsh(K)[:, -1]
    if outputs_sum_to_one:
        n_outputs = K.shape[-1] // n_samples
        if n_outputs < 2 or n_outputs * n_samples != K.shape[-1]:
            raise ValueError(f"outputs that sum to one need C >= 2 outputs per sample; a kernel of "
                             f"size {K.shape[-1]} for {n_samples} samples has {K.shape[-1] / n_samples:g}")
        Q = _simplex_residuals_basis(n_samples, n_outputs)
        K = Q.T @ K @ Q  # (an unoptimised einsum loops over all four indices: hours at n C = 640)
    return KernelSpectrum(lambda_max, np.linalg.eigvalsh(K)[:, 0])
