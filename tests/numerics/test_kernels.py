"""Tangent kernel (Eq. 1): structured identity vs per-sample Jacobians, invariants, Eq. 6."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from network_settings import make_mlp
from ntk_linearity import empirical_ntk, kernel_difference, kernel_reference, ntk_diagonal

CASES = [
    # (d_in, widths, activation, head, n_out, train_last_layer)
    (3, [64], "tanh", "linear", 1, True),
    (3, [64], "relu", "swish", 1, False),
    (5, [32, 16], "gelu", "softmax", 4, True),
    (4, [24, 3, 24], "swish", "linear", 1, True),  # bottleneck
    pytest.param((2, [16, 16, 16], "softplus", "sigmoid", 1, True), marks=pytest.mark.slow),
    pytest.param((3, [20, 10], "erf", "tanh", 2, True), marks=pytest.mark.slow),
]


def _inputs(n, d, seed=1):
    X = jax.random.normal(jax.random.key(seed), (n, d))
    return X / jnp.linalg.norm(X, axis=1, keepdims=True)


def _relative_error(A, B):
    return float(jnp.max(jnp.abs(A - B)) / jnp.max(jnp.abs(B)))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[2]}-{c[3]}-{len(c[1])}layers")
def test_structured_matches_jacobian(case):
    d, widths, act, head, n_out, train_last = case
    model = make_mlp(d, widths, activation=act, head=head, n_out=n_out, train_last_layer=train_last)
    params = model.init(jax.random.key(0))
    X, X2 = _inputs(9, d), _inputs(5, d, seed=2)
    for second in (None, X2):
        structured = empirical_ntk(model.apply, params, X, second, method="structured")
        jacobian = empirical_ntk(model.apply, params, X, second, method="jacobian", chunk_size=4)
        n2 = X.shape[0] if second is None else X2.shape[0]
        assert structured.shape == (9 * n_out, n2 * n_out)
        assert _relative_error(structured, jacobian) < 1e-5


@pytest.mark.parametrize("case", CASES[:3], ids=lambda c: c[3])
def test_kernel_is_symmetric_positive_semidefinite(case):
    d, widths, act, head, n_out, train_last = case
    model = make_mlp(d, widths, activation=act, head=head, n_out=n_out, train_last_layer=train_last)
    K = empirical_ntk(model.apply, model.init(jax.random.key(3)), _inputs(12, d))
    np.testing.assert_allclose(K, K.T, rtol=0, atol=1e-6 * float(jnp.max(jnp.abs(K))))
    assert float(jnp.linalg.eigvalsh(K)[0]) > -1e-5 * float(jnp.linalg.eigvalsh(K)[-1])


@pytest.mark.parametrize("head,n_out", [("linear", 1), ("swish", 1), ("sigmoid", 1), ("tanh", 1), ("softmax", 3)])
def test_gradient_norm_equals_kernel_diagonal(head, n_out):
    """Eq. 6 / Eq. 12: ||grad_w f(w; x)||^2 = K_(x,x)(w), with the gradient taken directly."""
    model = make_mlp(3, [40, 30], head=head, n_out=n_out)
    params = model.init(jax.random.key(4))
    X = _inputs(6, 3)
    diag = np.asarray(ntk_diagonal(model.apply, params, X)).reshape(6, n_out)
    K = np.asarray(empirical_ntk(model.apply, params, X))
    for i in range(6):
        for c in range(n_out):
            grad = jax.grad(lambda p: jnp.reshape(model.apply(p, X[i : i + 1]), (-1,))[c])(params)
            squared_norm = sum(float(jnp.sum(g**2)) for g in jax.tree.leaves(grad))
            assert diag[i, c] == pytest.approx(squared_norm, rel=1e-5)
            assert K[i * n_out + c, i * n_out + c] == pytest.approx(squared_norm, rel=1e-5)


def test_frozen_readout_is_excluded_from_kernel():
    """train_last_layer=False: the readout contributes nothing (v fixed, Eq. 4)."""
    frozen = make_mlp(3, [50], train_last_layer=False)
    trained = make_mlp(3, [50], train_last_layer=True)
    params = frozen.init(jax.random.key(5))
    X = _inputs(7, 3)
    hidden = jnp.tanh(X @ params["layer_1"] / jnp.sqrt(3.0))
    readout_part = hidden @ hidden.T / 50  # closed form of <df/dV, df/dV>
    K_difference = empirical_ntk(trained.apply, params, X) - empirical_ntk(frozen.apply, params, X)
    np.testing.assert_allclose(K_difference, readout_part, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["structured", "jacobian"])
def test_kernel_difference_matches_float64_subtraction(method):
    with jax.enable_x64(True):
        model = make_mlp(3, [30, 20], head="swish", dtype="float64")
        p0 = model.init(jax.random.key(6))
        p1 = jax.tree.map(lambda w: w + 0.05 * jnp.sin(w), p0)
        X = _inputs(8, 3).astype(jnp.float64)
        direct = empirical_ntk(model.apply, p1, X) - empirical_ntk(model.apply, p0, X)
        via_factors = kernel_difference(model.apply, p1, p0, X, method=method, chunk_size=3)
        np.testing.assert_allclose(via_factors, direct, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", ["structured", "jacobian"])
@pytest.mark.parametrize("head", ["linear", "softmax"])
def test_kernel_reference_matches_float64_kernels(method, head):
    """One reference, several kernel changes: each equals the float64 subtraction of two kernels."""
    with jax.enable_x64(True):
        model = make_mlp(3, [30, 20], head=head, n_out=3 if head == "softmax" else 1, dtype="float64")
        p0 = model.init(jax.random.key(6))
        X = _inputs(8, 3).astype(jnp.float64)
        reference = kernel_reference(model.apply, p0, X, method=method)
        K0 = empirical_ntk(model.apply, p0, X, method="jacobian", chunk_size=3)
        np.testing.assert_allclose(reference.kernel, K0, rtol=1e-12, atol=1e-12)
        for scale in (0.01, 0.2):
            p1 = jax.tree.map(lambda w: w + scale * jnp.sin(w), p0)
            direct = empirical_ntk(model.apply, p1, X, method="jacobian", chunk_size=3) - K0
            np.testing.assert_allclose(reference.difference(p1), direct, rtol=1e-9, atol=1e-12)


def test_kernel_reference_float32_change_beats_subtraction():
    """In float32 the change from factor differences is accurate relative to the change itself,
    where subtracting two rounded kernels is not (module docstring, "Precision")."""
    model = make_mlp(3, [2000])
    p0 = model.init(jax.random.key(2))
    p1 = jax.tree.map(lambda w: w + 1e-4 * jnp.cos(w), p0)
    X = _inputs(8, 3)
    reference = kernel_reference(model.apply, p0, X)
    change = np.asarray(reference.difference(p1), np.float64)
    with jax.enable_x64(True):
        to64 = lambda tree: jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)  # noqa: E731
        exact = np.asarray(empirical_ntk(model.apply, to64(p1), to64(X))
                           - empirical_ntk(model.apply, to64(p0), to64(X)))
    subtracted = np.asarray(empirical_ntk(model.apply, p1, X) - reference.kernel, np.float64)
    error = np.linalg.norm(change - exact) / np.linalg.norm(exact)
    # Delta K ~ 3e-6 K here: float32 factor differences leave ~1e-3 of it, subtraction ~0.2
    assert error < 1e-2
    assert error < np.linalg.norm(subtracted - exact) / np.linalg.norm(exact) / 20


def test_general_model_uses_jacobian_path():
    """A model without kernel_factors (here: a linear-in-parameters random-feature model)."""
    features = _inputs(6, 3) @ jax.random.normal(jax.random.key(7), (3, 11))

    def apply(w, X):
        return jnp.tanh(X @ jax.random.normal(jax.random.key(7), (3, 11))) @ w

    K = empirical_ntk(apply, jnp.ones(11), _inputs(6, 3))
    phi = jnp.tanh(features)
    np.testing.assert_allclose(K, phi @ phi.T, rtol=1e-5)
    with pytest.raises(ValueError, match="structured"):
        empirical_ntk(apply, jnp.ones(11), _inputs(6, 3), method="structured")
