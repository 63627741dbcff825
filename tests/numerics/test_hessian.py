"""||H|| by Lanczos and by the shallow-net closed form (Eq. 5, 10, 13) against each other, against
closed forms and against dense eigendecompositions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from network_settings import make_mlp
from ntk_linearity import hessian_spectral_norm
from ntk_linearity.numerics.hessian import hessian_method, supports_closed_form
from ntk_linearity.numerics.lanczos import DEFAULT_LANCZOS_STEPS, extreme_eigenvalue, lanczos_tridiagonal
from ntk_linearity.numerics.layer_subspace import subspace_dimension, subspace_hessian_vector_product

SIGMA = {"tanh": jnp.tanh, "softplus": jax.nn.softplus, "swish": jax.nn.silu}


def _unit(d, seed=1):
    x = jax.random.normal(jax.random.key(seed), (d,))
    return x / jnp.linalg.norm(x)


def _dense_norm(apply, params, x, output=0):
    flat, unravel = ravel_pytree(params)
    H = jax.hessian(lambda w: jnp.reshape(apply(unravel(w), x[None]), (-1,))[output])(flat)
    return float(jnp.max(jnp.abs(jnp.linalg.eigvalsh(H))))


@pytest.mark.parametrize("activation", ["tanh", pytest.param("softplus", marks=pytest.mark.slow)])
def test_eq5_diagonal_hessian_when_only_hidden_layer_is_trained(activation):
    """v fixed: H is block diagonal with rank-one blocks v_i sigma''(z_i) x x^T / (d sqrt m)."""
    d, m = 3, 100  # Lanczos with d m steps spans the whole space: exact up to rounding
    model = make_mlp(d, [m], activation=activation, train_last_layer=False)
    params = model.init(jax.random.key(0))
    x = 1.7 * _unit(d)
    z = x @ params["layer_1"] / jnp.sqrt(d)
    second = jax.vmap(jax.grad(jax.grad(SIGMA[activation])))(z)
    closed_form = float(jnp.max(jnp.abs(params["readout"][:, 0] * second)) * (x @ x) / (d * jnp.sqrt(m)))
    result = hessian_spectral_norm(model.apply, params, x, steps=d * m, method="lanczos", tol=0)
    assert float(result.norm) == pytest.approx(closed_form, rel=1e-4)
    assert float(hessian_spectral_norm(model.apply, params, x).norm) == pytest.approx(closed_form, rel=1e-5)


def test_eq5_two_by_two_blocks_when_readout_is_trained():
    """v trained: per neuron a 2x2 block [[a r^2, b r], [b r, 0]] in the span of (x, e_v)."""
    d, m = 2, 100
    model = make_mlp(d, [m])
    params = model.init(jax.random.key(1))
    x = 1.3 * _unit(d, seed=2)
    r = jnp.linalg.norm(x)
    z = x @ params["layer_1"] / jnp.sqrt(d)
    a = params["readout"][:, 0] * jax.vmap(jax.grad(jax.grad(jnp.tanh)))(z) / (d * jnp.sqrt(m))
    b = jax.vmap(jax.grad(jnp.tanh))(z) / jnp.sqrt(d * m)
    root = jnp.sqrt((a * r**2) ** 2 + 4 * (b * r) ** 2)
    closed_form = float(jnp.max(jnp.maximum(jnp.abs(a * r**2 + root), jnp.abs(a * r**2 - root)) / 2))
    for method in ("lanczos", "closed_form"):
        result = hessian_spectral_norm(model.apply, params, x, steps=model.n_params, method=method, tol=0)
        assert float(result.norm) == pytest.approx(closed_form, rel=1e-4)
        assert float(result.lambda_min) < 0 < float(result.lambda_max)  # indefinite, +/- pairs


@pytest.mark.parametrize(
    "widths,head,n_out",
    [([40, 30], "linear", 1), pytest.param([30, 4, 30], "linear", 1, marks=pytest.mark.slow),
     pytest.param([50], "swish", 1, marks=pytest.mark.slow), pytest.param([25, 20], "softmax", 3, marks=pytest.mark.slow)],
)
def test_lanczos_matches_dense_eigvalsh(widths, head, n_out):
    model = make_mlp(3, widths, head=head, n_out=n_out)
    params = model.init(jax.random.key(2))
    x = _unit(3, seed=3)
    result = hessian_spectral_norm(model.apply, params, x, method="lanczos")
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


@pytest.mark.parametrize("method", [pytest.param("lanczos", marks=pytest.mark.slow), "closed_form"])
def test_non_linear_head_follows_eq13(method):
    """H~ = phi''(f) grad f grad f^T + phi'(f) H (Eq. 13), assembled from independent pieces."""
    linear = make_mlp(2, [30])
    swish = make_mlp(2, [30], head="swish")
    params = linear.init(jax.random.key(6))
    x = _unit(2, seed=7)
    flat, unravel = ravel_pytree(params)
    f = lambda w: linear.apply(unravel(w), x[None])[0]
    g, H, f0 = jax.grad(f)(flat), jax.hessian(f)(flat), f(flat)
    dphi, ddphi = jax.grad(jax.nn.silu)(f0), jax.grad(jax.grad(jax.nn.silu))(f0)
    H_tilde = ddphi * jnp.outer(g, g) + dphi * H
    expected = float(jnp.max(jnp.abs(jnp.linalg.eigvalsh(H_tilde))))
    result = hessian_spectral_norm(swish.apply, params, x, method=method)
    assert float(result.norm) == pytest.approx(expected, rel=1e-4)


# --------------------------------------------------------------------------------------------------
# Closed form of the one-hidden-layer net
# --------------------------------------------------------------------------------------------------


def _dense_spectrum(model, params, x, output):
    """Eigenvalues of the dense Hessian ``jax.hessian`` of output ``output``, in the model's dtype
    (so that both sides see the same rounded model), diagonalised in float64."""
    flat, unravel = ravel_pytree(params)
    H = jax.jit(jax.hessian(lambda w: jnp.reshape(model.apply(unravel(w), x[None]), (-1,))[output]))(flat)
    return np.linalg.eigvalsh(np.asarray(H, np.float64))


CLOSED_FORM_CASES = [
    # activation, head, n_out, train_last_layer
    ("tanh", "linear", 1, True),
    pytest.param("tanh", "linear", 1, False, marks=pytest.mark.slow),
    ("softplus", "linear", 3, True),
    pytest.param("tanh", "swish", 1, True, marks=pytest.mark.slow),
    ("gelu", "swish", 1, False),
    pytest.param("swish", "tanh", 1, True, marks=pytest.mark.slow),
    pytest.param("erf", "sigmoid", 2, True, marks=pytest.mark.slow),
    ("tanh", "softmax", 3, True),
    pytest.param("softplus", "softmax", 4, False, marks=pytest.mark.slow),
    pytest.param("swish", "softmax", 5, True, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("dtype", ["float32", pytest.param("float64", marks=pytest.mark.slow)])
@pytest.mark.parametrize("activation,head,n_out,train_last_layer", CLOSED_FORM_CASES)
def test_closed_form_matches_dense_eigvalsh(activation, head, n_out, train_last_layer, dtype):
    """Exact max |lambda|, lambda_min and lambda_max of every output's Hessian, per dtype."""
    rel = 2e-6 if dtype == "float32" else 1e-11
    with jax.enable_x64(dtype == "float64"):
        model = make_mlp(4, [24], activation=activation, head=head, n_out=n_out, train_last_layer=train_last_layer,
                         dtype=dtype)
        params = model.init(jax.random.key(11))
        x = 1.5 * _unit(4, seed=12).astype(dtype)
        assert supports_closed_form(model.apply)
        result = hessian_spectral_norm(model.apply, params, x, method="closed_form")
        for field in result[:4]:
            assert field.dtype == jnp.dtype(dtype)
            assert field.shape == (() if n_out == 1 else (n_out,))
        for c in range(n_out):
            eig = _dense_spectrum(model, params, x, c)
            norm = np.max(np.abs(eig))
            pick = lambda a: float(np.atleast_1d(np.asarray(a))[c])  # noqa: E731
            assert pick(result.norm) == pytest.approx(norm, rel=rel)
            assert pick(result.lambda_min) == pytest.approx(eig[0], abs=rel * norm)
            assert pick(result.lambda_max) == pytest.approx(eig[-1], abs=rel * norm)
            assert 0 <= pick(result.residual) <= rel * norm


@pytest.mark.parametrize("head", ["swish", pytest.param("softmax", marks=pytest.mark.slow)])
def test_closed_form_with_d_equal_one_and_antisymmetric_init(head):
    """d = 1 leaves no null space outside the reduced (w, v) space; the doubling trick makes
    neurons pairwise equal up to the readout sign (degenerate blocks, f(w_0; x) = 0)."""
    n_out = 3 if head == "softmax" else 1
    with jax.enable_x64(True):
        model = make_mlp(1, [16], head=head, n_out=n_out, dtype="float64", init_scheme="antisymmetric")
        params = model.init(jax.random.key(13))
        x = jnp.array([0.8])
        result = hessian_spectral_norm(model.apply, params, x)
        for c in range(n_out):
            eig = _dense_spectrum(model, params, x, c)
            pick = lambda a: float(np.atleast_1d(np.asarray(a))[c])  # noqa: E731
            assert pick(result.norm) == pytest.approx(np.max(np.abs(eig)), rel=1e-11)
            assert pick(result.lambda_min) == pytest.approx(eig[0], rel=1e-11)
            assert pick(result.lambda_max) == pytest.approx(eig[-1], rel=1e-11)


@pytest.mark.parametrize("head,n_out", [pytest.param("linear", 1, marks=pytest.mark.slow), ("swish", 1), ("softmax", 3)])
def test_closed_form_matches_lanczos_on_a_medium_net(head, n_out):
    """p = 18,000: the closed form against Lanczos run to convergence (both float64)."""
    with jax.enable_x64(True):
        model = make_mlp(8, [2000], head=head, n_out=n_out, dtype="float64")
        params = model.init(jax.random.key(14))
        x = _unit(8, seed=15).astype(jnp.float64)
        closed = hessian_spectral_norm(model.apply, params, x)
        lanczos = hessian_spectral_norm(model.apply, params, x, method="lanczos", steps=160, tol=1e-10)
    closed_norm, lanczos_norm = np.atleast_1d(closed.norm), np.atleast_1d(lanczos.norm)
    assert np.all(np.atleast_1d(lanczos.residual) <= 1e-8 * lanczos_norm)
    np.testing.assert_allclose(closed_norm, lanczos_norm, rtol=1e-8)
    # Ritz values lie inside the spectrum [lambda_min, lambda_max] (only the top pair has converged)
    slack = 1e-10 * closed_norm.max()
    assert np.all(np.asarray(lanczos.lambda_max) <= np.asarray(closed.lambda_max) + slack)
    assert np.all(np.asarray(lanczos.lambda_min) >= np.asarray(closed.lambda_min) - slack)


def test_method_selection():
    shallow, deep = make_mlp(3, [20], head="swish"), make_mlp(3, [20, 20], head="swish")
    x = _unit(3)
    assert supports_closed_form(shallow.apply) and not supports_closed_form(deep.apply)
    assert not supports_closed_form(lambda p, X: shallow.apply(p, X))
    # the method each run records (runs.csv: hessian_method) is the one auto uses
    assert hessian_method(shallow.apply) == "closed_form" and hessian_method(deep.apply) == "subspace_lanczos"
    assert hessian_method(lambda p, X: deep.apply(p, X)) == "lanczos"
    p_shallow, p_deep = shallow.init(jax.random.key(0)), deep.init(jax.random.key(0))
    closed = hessian_spectral_norm(shallow.apply, p_shallow, x)  # auto -> closed form (bisection)
    forced = hessian_spectral_norm(shallow.apply, p_shallow, x, method="lanczos", tol=0)
    assert int(forced.steps) == DEFAULT_LANCZOS_STEPS
    assert float(forced.norm) == pytest.approx(float(closed.norm), rel=1e-4)
    # auto on a deep mlp -> Lanczos on the layer subspace: at most its dimension in steps
    auto = hessian_spectral_norm(deep.apply, p_deep, x, tol=0, steps=1000)
    assert int(auto.steps) == subspace_dimension(deep) == (3 + 20 - 1) + (20 + 20 - 1) + (20 + 1 - 1)
    with pytest.raises(ValueError, match="closed_form"):
        hessian_spectral_norm(deep.apply, p_deep, x, method="closed_form")
    with pytest.raises(ValueError, match="subspace_lanczos"):
        hessian_spectral_norm(lambda p, X: deep.apply(p, X), p_deep, x, method="subspace_lanczos")
    with pytest.raises(ValueError, match="method must be one of"):
        hessian_spectral_norm(deep.apply, p_deep, x, method="power")


# --------------------------------------------------------------------------------------------------
# Lanczos on the layer subspace of a deep mlp
# --------------------------------------------------------------------------------------------------

SUBSPACE_CASES = [
    # widths, head, n_out, model settings
    ([30, 4, 30], "linear", 1, {}),
    ([25, 20], "softmax", 3, {}),
    pytest.param([20, 20], "swish", 1, {"parameterization": "standard"}, marks=pytest.mark.slow),
    pytest.param([20, 10], "linear", 1, {"train_last_layer": False}, marks=pytest.mark.slow),
    pytest.param([20, 10, 7], "sigmoid", 1, {"output_scale": 3.0, "activation": "softplus"}, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("widths,head,n_out,settings", SUBSPACE_CASES)
def test_layer_subspace_holds_the_range_of_the_hessian(widths, head, n_out, settings):
    """P^T H P (assembled column by column from the reduced products) has the nonzero spectrum of
    the dense H: its eigenvalues are those of H up to zeros, so the traces of H and H^2 agree, and
    Lanczos on it returns the dense ||H||."""
    settings = {"activation": "tanh"} | settings
    with jax.enable_x64(True):
        model = make_mlp(3, widths, head=head, n_out=n_out, dtype="float64", **settings)
        params = model.init(jax.random.key(30))
        x = 1.4 * _unit(3, seed=31).astype(jnp.float64)
        dim = subspace_dimension(model)
        result = hessian_spectral_norm(model.apply, params, x, method="subspace_lanczos", steps=dim, tol=0)
        columns = jax.jit(lambda c: jax.vmap(subspace_hessian_vector_product(model, params, x, c))(jnp.eye(dim)))
        for c in range(n_out):
            eig = _dense_spectrum(model, params, x, c)
            reduced = columns(c)
            np.testing.assert_allclose(reduced, reduced.T, atol=1e-12)
            reduced_eig = np.linalg.eigvalsh(np.asarray(reduced))
            assert dim < len(eig)
            assert np.sum(reduced_eig) == pytest.approx(np.sum(eig), abs=1e-10)
            assert np.sum(reduced_eig**2) == pytest.approx(np.sum(eig**2), rel=1e-10)
            pick = lambda a: float(np.atleast_1d(np.asarray(a))[c])  # noqa: E731
            assert pick(result.norm) == pytest.approx(np.max(np.abs(eig)), rel=1e-10)
            assert pick(result.lambda_min) == pytest.approx(min(eig[0], 0.0), abs=1e-10)
            assert pick(result.lambda_max) == pytest.approx(max(eig[-1], 0.0), abs=1e-10)


def test_subspace_and_full_lanczos_agree_on_a_bottleneck_net():
    """p = 29,400 against a subspace of dimension 2,445: both Lanczos runs converge to one ||H||."""
    model = make_mlp(8, [600, 20, 600])
    params = model.init(jax.random.key(32))
    x = _unit(8, seed=33) * 8**0.5
    full = hessian_spectral_norm(model.apply, params, x, method="lanczos", steps=200)
    reduced = hessian_spectral_norm(model.apply, params, x, method="subspace_lanczos", steps=200)
    assert (model.n_params, subspace_dimension(model)) == (29_400, 2_445)
    assert float(full.residual) <= 1e-5 * float(full.norm)
    assert float(reduced.residual) <= 1e-5 * float(reduced.norm)
    assert float(reduced.norm) == pytest.approx(float(full.norm), rel=2e-5)


# --------------------------------------------------------------------------------------------------
# Lanczos early stopping
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "widths,activation,head,n_out",
    [
        ([40, 30], "tanh", "linear", 1),
        pytest.param([30, 4, 30], "tanh", "linear", 1, marks=pytest.mark.slow),
        pytest.param([60, 60], "softplus", "sigmoid", 1, marks=pytest.mark.slow),
        ([25, 20], "tanh", "softmax", 3),
        pytest.param([300], "tanh", "swish", 1, marks=pytest.mark.slow),
    ],
)
def test_early_stopped_lanczos_agrees_with_the_full_run(widths, activation, head, n_out):
    model = make_mlp(3, widths, activation=activation, head=head, n_out=n_out)
    params = model.init(jax.random.key(16))
    x = _unit(3, seed=17)
    full = hessian_spectral_norm(model.apply, params, x, method="lanczos", tol=0)
    early = hessian_spectral_norm(model.apply, params, x, method="lanczos")  # default tol
    np.testing.assert_allclose(np.asarray(early.norm), np.asarray(full.norm), rtol=1e-4)
    assert np.all(np.asarray(early.steps) <= np.asarray(full.steps))
    # the reported residual is the Ritz residual of the pair that is returned
    stopped = np.asarray(early.steps) < np.asarray(full.steps)
    assert np.all(~stopped | (np.asarray(early.residual) <= 1e-6 * np.asarray(early.norm)))


def test_early_stopping_takes_fewer_steps_on_an_easy_spectrum():
    """One outlier eigenvalue (|lambda| = 5) over a bulk in [-1, 1]: Lanczos converges within a few
    steps, so it stops long before the 80 requested, with the known top eigenvalue."""
    dim = 400
    eigenvalues = jnp.concatenate([jnp.array([-5.0]), jnp.linspace(-1.0, 1.0, dim - 1)])
    Q, _ = jnp.linalg.qr(jax.random.normal(jax.random.key(18), (dim, dim)))
    A = (Q * eigenvalues) @ Q.T
    v0 = jax.random.normal(jax.random.key(19), (dim,))
    alpha, beta, steps = lanczos_tridiagonal(lambda v: A @ v, v0, 80, tol=1e-6)
    result = extreme_eigenvalue(alpha, beta, steps)
    assert int(steps) < 40
    assert float(result.norm) == pytest.approx(5.0, rel=1e-5)
    assert float(result.lambda_min) == pytest.approx(-5.0, rel=1e-5)
    assert float(result.residual) <= 1e-6 * 5.0
    full = extreme_eigenvalue(*lanczos_tridiagonal(lambda v: A @ v, v0, 80))
    assert int(full.steps) == 80
    assert float(full.norm) == pytest.approx(5.0, rel=1e-5)


def test_lanczos_stops_on_an_invariant_subspace():
    """A rank-3 operator: the Krylov space is exhausted after 3 steps, the residual is zero."""
    dim = 200
    U = jax.random.normal(jax.random.key(20), (dim, 3))
    A = U @ jnp.diag(jnp.array([2.0, -3.0, 0.5])) @ U.T
    v0 = jax.random.normal(jax.random.key(21), (dim,))
    alpha, beta, steps = lanczos_tridiagonal(lambda v: A @ v, v0, 50, tol=1e-6)
    assert int(steps) == 8  # the first check
    expected = float(jnp.max(jnp.abs(jnp.linalg.eigvalsh(A))))
    assert float(extreme_eigenvalue(alpha, beta, steps).norm) == pytest.approx(expected, rel=1e-5)
