"""The ball of Proposition 2.2 (numerics/ball.py): the explicit bound against a quadratic model whose
kernel change is known by hand, where the bound is attained, the sampled points, the ratio on small
mlps, and the closed-form ||H|| against Lanczos away from w_0."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from network_settings import make_mlp
from ntk_linearity import hessian_spectral_norm
from ntk_linearity.numerics.ball import (
    ball_measures,
    closed_form_hessian_norms,
    measure_point,
    offset,
    nested_grid,
    path_measures,
    reference,
    tree_norm,
    unit_directions,
)
from ntk_linearity.numerics.kernels import gradient_change_norms


class Quadratic:
    """f(w) = w^T A w / 2 + b^T w, the same value at every input: Hessian A everywhere, gradient
    A w + b, tangent kernel ||A w + b||^2 (the jacobian path of the kernel functions)."""

    def __init__(self, A, b):
        self.A, self.b = A, b

    def apply(self, params, X):
        w = params["w"]
        return jnp.broadcast_to(0.5 * w @ self.A @ w + self.b @ w, (X.shape[0],))

    def hessian_norms(self, params, X):
        return jnp.full((X.shape[0],), jnp.max(jnp.abs(jnp.linalg.eigvalsh(self.A))))


def _measure_quadratic(model, w0, w):
    X = jnp.zeros((1, 1))
    params0, params = {"w": w0}, {"w": w}
    eps = model.hessian_norms(params, X)  # constant Hessian: the sup along any segment is ||A||
    return measure_point(model.apply, params0, params, X, reference(model.apply, params0, X), eps, eps)


def test_bound_is_attained_by_the_isotropic_quadratic_along_w0():
    """f = a ||w||^2 / 2, w - w_0 = rho w_0 / |w_0|: K(w) - K(w_0) = a^2 ((|w_0| + rho)^2 - |w_0|^2) and
    both inequalities of the bound are equalities, so the ratio is exactly 1."""
    with jax.enable_x64(True):
        a, rho, d = 1.7, 0.45, 5
        model = Quadratic(a * jnp.eye(d), jnp.zeros(d))
        u0 = jnp.arange(1.0, d + 1) / jnp.linalg.norm(jnp.arange(1.0, d + 1))
        w0 = 2.0 * u0
        result = _measure_quadratic(model, w0, w0 + rho * u0)
        change = a**2 * ((2.0 + rho) ** 2 - 2.0**2)
        assert result.distance == pytest.approx(rho, rel=1e-12)
        assert result.kernel_change == pytest.approx(change / (a**2 * 4.0), rel=1e-10)
        assert result.ratio == pytest.approx(1.0, rel=1e-10)
        assert result.gradient_ratio == pytest.approx(1.0, rel=1e-10)


def test_kernel_change_of_a_general_quadratic_by_hand_is_within_the_bound():
    """Random symmetric A, b and displacement: the measured change is the hand-computed
    | ||A w + b||^2 - ||A w_0 + b||^2 | / ||A w_0 + b||^2, the gradient change is ||A (w - w_0)||, and
    both stay within their bounds ||A|| rho (...)."""
    with jax.enable_x64(True):
        d = 5
        keys = jax.random.split(jax.random.key(3), 4)
        M = jax.random.normal(keys[0], (d, d))
        A, b = (M + M.T) / 2, jax.random.normal(keys[1], (d,))
        w0, delta = jax.random.normal(keys[2], (d,)), 0.8 * jax.random.normal(keys[3], (d,))
        model = Quadratic(A, b)
        result = _measure_quadratic(model, w0, w0 + delta)
        g0, g1 = A @ w0 + b, A @ (w0 + delta) + b
        norm_A = float(jnp.max(jnp.abs(jnp.linalg.eigvalsh(A))))
        assert result.kernel_change == pytest.approx(abs(float(g1 @ g1 - g0 @ g0)) / float(g0 @ g0), rel=1e-9)
        rho = float(jnp.linalg.norm(delta))
        assert result.gradient_ratio == pytest.approx(float(jnp.linalg.norm(A @ delta)) / (norm_A * rho), rel=1e-9)
        bound = rho * norm_A * min(float(jnp.linalg.norm(g1) + jnp.linalg.norm(g0)),
                                   float(jnp.linalg.norm(g0) + jnp.linalg.norm(g1)))
        assert result.kernel_bound == pytest.approx(bound / float(g0 @ g0), rel=1e-9)
        assert 0 < result.ratio <= 1


def test_sampled_directions_are_unit_and_move_only_trained_weights():
    with jax.enable_x64(True):
        model = make_mlp(3, [10], train_last_layer=False, dtype="float64")
        params = model.init(jax.random.key(0))
        directions = unit_directions(jax.random.key(1), params, 8, frozen=("readout",))
        assert len(directions) == 8
        for u in directions:
            assert float(tree_norm(u)) == pytest.approx(1.0, abs=1e-14)
            assert float(tree_norm({k: offset(params, u, 2.5)[k] - params[k] for k in params})) == pytest.approx(
                2.5, rel=1e-13)
            assert not np.any(np.asarray(u["readout"]))
        flat = np.stack([ravel_pytree(u)[0] for u in directions])
        assert np.linalg.matrix_rank(flat) == 8  # eight different directions


def test_nested_grid_holds_every_radius_with_enough_points():
    radii = [0.5, 1.0, 2.0]
    grid = nested_grid(radii, 9)
    for radius in radii:
        inside = grid[grid <= radius / 2.0 + 1e-12]
        assert radius / 2.0 in grid and len(inside) >= 9
    with pytest.raises(ValueError, match="positive"):
        nested_grid([1.0, -1.0], 9)


@pytest.mark.parametrize("head", ["linear", "swish"])
def test_ratio_is_at_most_one_on_a_small_mlp(head):
    """Ball samples and path points of a one-hidden-layer network: measured change <= bound, the
    gradient step <= its bound, and the sup along a segment is at least the norm at its end."""
    model = make_mlp(4, [24], head=head, init_scheme="antisymmetric")
    params0 = model.init(jax.random.key(5))
    X = jax.random.normal(jax.random.key(6), (6, 4))
    norms = closed_form_hessian_norms(model.apply)
    directions = unit_directions(jax.random.key(7), params0, 8)
    end = {name: value + 0.9 * u for (name, value), u in zip(params0.items(), directions[0].values())}
    radii = [0.5, 2.0]
    per_radius = ball_measures(model.apply, norms, params0, X, directions, radii, 9)
    for radius, measures in zip(radii, per_radius):  # the sampled points lie at distance R
        assert [m.distance for m in measures] == pytest.approx([radius] * len(directions), rel=1e-5)
    points = [m for measures in per_radius for m in measures] + path_measures(model.apply, norms, params0, end, X, 9)[1]
    for point in points:
        assert 0 < point.ratio <= 1
        assert 0 < point.gradient_ratio <= 1 + 1e-5
        assert point.hessian_sup >= point.hessian_norm


def test_closed_form_norms_agree_with_lanczos_away_from_w0():
    """At w = w_0 + 0.7 u the closed form (per input, the row order of the kernel) matches Lanczos on
    the full parameter space; with rtol > 0 the bracket's upper end is never below the exact norm."""
    with jax.enable_x64(True):
        model = make_mlp(3, [8], head="swish", dtype="float64")
        params0 = model.init(jax.random.key(8))
        u = unit_directions(jax.random.key(9), params0, 1)[0]
        params = {name: params0[name] + 0.7 * u[name] for name in params0}
        X = jax.random.normal(jax.random.key(10), (2, 3))
        exact = np.asarray(closed_form_hessian_norms(model.apply)(params, X))
        lanczos = [float(hessian_spectral_norm(model.apply, params, x, steps=model.n_params, method="lanczos",
                                               tol=0).norm) for x in X]
        assert exact == pytest.approx(lanczos, rel=1e-9)
        upper = np.asarray(closed_form_hessian_norms(model.apply, 1e-3)(params, X))
        assert np.all(upper >= exact) and upper == pytest.approx(exact, rel=2e-3)


def test_gradient_change_norms_match_the_jacobian_difference():
    model = make_mlp(3, [9], head="swish")
    params0 = model.init(jax.random.key(11))
    params = {name: value + 0.3 for name, value in params0.items()}
    X = jax.random.normal(jax.random.key(12), (5, 3))

    def grads(p):
        return jax.vmap(lambda x: ravel_pytree(jax.grad(lambda q: model.apply(q, x[None])[0])(p))[0])(X)

    direct = jnp.linalg.norm(grads(params) - grads(params0), axis=1)
    assert np.asarray(gradient_change_norms(model.apply, params, params0, X)) == pytest.approx(
        np.asarray(direct), rel=1e-4)
