"""||H|| by Lanczos (Eq. 5, 10, 13) against closed forms and dense eigendecompositions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from ntk_linearity import hessian_spectral_norm, mlp
from ntk_linearity.numerics.hessian import extreme_eigenvalue, lanczos_tridiagonal

SIGMA = {"tanh": jnp.tanh, "softplus": jax.nn.softplus, "swish": jax.nn.silu}


def _unit(d, seed=1):
    x = jax.random.normal(jax.random.key(seed), (d,))
    return x / jnp.linalg.norm(x)


def _dense_norm(apply, params, x, output=0):
    flat, unravel = ravel_pytree(params)
    H = jax.hessian(lambda w: jnp.reshape(apply(unravel(w), x[None]), (-1,))[output])(flat)
    return float(jnp.max(jnp.abs(jnp.linalg.eigvalsh(H))))


@pytest.mark.parametrize("activation", ["tanh", "softplus"])
def test_eq5_diagonal_hessian_when_only_hidden_layer_is_trained(activation):
    """v fixed: H is block diagonal with rank-one blocks v_i sigma''(z_i) x x^T / (d sqrt m)."""
    d, m = 3, 400
    model = mlp(d, [m], activation, train_last_layer=False)
    params = model.init(jax.random.key(0))
    x = 1.7 * _unit(d)
    z = x @ params["layer_1"] / jnp.sqrt(d)
    second = jax.vmap(jax.grad(jax.grad(SIGMA[activation])))(z)
    closed_form = float(jnp.max(jnp.abs(params["readout"][:, 0] * second)) * (x @ x) / (d * jnp.sqrt(m)))
    result = hessian_spectral_norm(model.apply, params, x, steps=d * m)
    assert float(result.norm) == pytest.approx(closed_form, rel=1e-4)


def test_eq5_two_by_two_blocks_when_readout_is_trained():
    """v trained: per neuron a 2x2 block [[a r^2, b r], [b r, 0]] in the span of (x, e_v)."""
    d, m = 2, 300
    model = mlp(d, [m], "tanh")
    params = model.init(jax.random.key(1))
    x = 1.3 * _unit(d, seed=2)
    r = jnp.linalg.norm(x)
    z = x @ params["layer_1"] / jnp.sqrt(d)
    a = params["readout"][:, 0] * jax.vmap(jax.grad(jax.grad(jnp.tanh)))(z) / (d * jnp.sqrt(m))
    b = jax.vmap(jax.grad(jnp.tanh))(z) / jnp.sqrt(d * m)
    root = jnp.sqrt((a * r**2) ** 2 + 4 * (b * r) ** 2)
    closed_form = float(jnp.max(jnp.maximum(jnp.abs(a * r**2 + root), jnp.abs(a * r**2 - root)) / 2))
    result = hessian_spectral_norm(model.apply, params, x, steps=model.n_params)
    assert float(result.norm) == pytest.approx(closed_form, rel=1e-4)
    assert float(result.lambda_min) < 0 < float(result.lambda_max)  # indefinite, +/- pairs


@pytest.mark.parametrize(
    "widths,head,n_out",
    [([40, 30], "linear", 1), ([30, 4, 30], "linear", 1), ([50], "swish", 1), ([25, 20], "softmax", 3)],
)
def test_lanczos_matches_dense_eigvalsh(widths, head, n_out):
    model = mlp(3, widths, "tanh", head, n_out)
    params = model.init(jax.random.key(2))
    x = _unit(3, seed=3)
    result = hessian_spectral_norm(model.apply, params, x)
    norms = np.atleast_1d(np.asarray(result.norm))
    for c in range(n_out):
        dense = _dense_norm(model.apply, params, x, c)
        assert norms[c] == pytest.approx(dense, rel=1e-4)
    assert np.all(np.asarray(result.residual) <= 1e-3 * norms)


def test_lanczos_on_plus_minus_pairs():
    """Eigenvalues +1, -1 (and a bulk in between): power iteration on the Rayleigh quotient would
    oscillate; Lanczos must return max |lambda| = 1."""
    dim = 300
    eigenvalues = jnp.concatenate([jnp.array([1.0, -1.0, 0.999, -0.999]), jnp.linspace(-0.5, 0.5, dim - 4)])
    Q, _ = jnp.linalg.qr(jax.random.normal(jax.random.key(4), (dim, dim)))
    A = (Q * eigenvalues) @ Q.T
    v0 = jax.random.normal(jax.random.key(5), (dim,))
    result = extreme_eigenvalue(*lanczos_tridiagonal(lambda v: A @ v, v0, 60))
    assert float(result.norm) == pytest.approx(1.0, rel=1e-4)
    assert float(result.lambda_min) == pytest.approx(-1.0, rel=1e-4)


def test_non_linear_head_follows_eq13():
    """H~ = phi''(f) grad f grad f^T + phi'(f) H (Eq. 13), assembled from independent pieces."""
    linear = mlp(2, [30], "tanh", "linear")
    swish = mlp(2, [30], "tanh", "swish")
    params = linear.init(jax.random.key(6))
    x = _unit(2, seed=7)
    flat, unravel = ravel_pytree(params)
    f = lambda w: linear.apply(unravel(w), x[None])[0]
    g, H, f0 = jax.grad(f)(flat), jax.hessian(f)(flat), f(flat)
    dphi, ddphi = jax.grad(jax.nn.silu)(f0), jax.grad(jax.grad(jax.nn.silu))(f0)
    H_tilde = ddphi * jnp.outer(g, g) + dphi * H
    expected = float(jnp.max(jnp.abs(jnp.linalg.eigvalsh(H_tilde))))
    assert float(hessian_spectral_norm(swish.apply, params, x).norm) == pytest.approx(expected, rel=1e-4)
