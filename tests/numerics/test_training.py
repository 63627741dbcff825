"""Full-batch gradient descent with kernel snapshots."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_linearity import DivergenceError, empirical_ntk, gradient_descent, mlp
from ntk_linearity.numerics import training


def _problem(n=12, d=3, seed=0):
    X = jax.random.normal(jax.random.key(seed), (n, d))
    X = X / jnp.linalg.norm(X, axis=1, keepdims=True)
    y = 1.0 + 0.5 * jnp.sin(2.0 * X[:, 0])
    return X, y


def test_loss_falls_below_tolerance():
    X, y = _problem()
    model = mlp(3, [256])
    result = gradient_descent(model.apply, model.init(jax.random.key(1)), X, y,
                              learning_rate=1.0, max_steps=20000, tol=1e-4)
    assert result.converged and result.losses[-1] <= 1e-4 < result.losses[0]
    assert result.steps == len(result.losses) - 1
    assert result.snapshot_steps[0] == 0 and result.snapshot_steps[-1] == result.steps
    assert result.delta_k[0] == 0.0 and result.delta_k_max > 0


def test_divergence_names_the_learning_rate():
    X, y = _problem()
    model = mlp(3, [64])
    with pytest.raises(DivergenceError, match=r"learning_rate=500\.0") as info:
        gradient_descent(model.apply, model.init(jax.random.key(1)), X, y,
                         learning_rate=500.0, max_steps=500, label="run-x")
    assert "run-x" in str(info.value) and info.value.learning_rate == 500.0


def test_same_seed_is_bit_identical():
    X, y = _problem()
    model = mlp(3, [128], head="swish")
    runs = [gradient_descent(model.apply, model.init(jax.random.key(7)), X, y,
                             learning_rate=1.0, max_steps=300, tol=0.0) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].losses, runs[1].losses)
    np.testing.assert_array_equal(runs[0].delta_k, runs[1].delta_k)
    np.testing.assert_array_equal(runs[0].params["layer_1"], runs[1].params["layer_1"])


def test_kernel_of_a_model_linear_in_its_parameters_is_exactly_constant():
    """Only the readout trained: f is linear in v, so K(v_t) = K(v_0) exactly (Proposition 2.1)."""
    X, y = _problem()
    model = mlp(3, [64])
    params0 = model.init(jax.random.key(2))

    def apply_readout(v, X):
        return model.apply({"layer_1": params0["layer_1"], "readout": v}, X)

    result = gradient_descent(apply_readout, params0["readout"], X, y,
                              learning_rate=1.0, max_steps=400, tol=0.0)
    assert result.weight_change_l2 > 0.1
    np.testing.assert_array_equal(result.delta_k, 0.0)
    K_end = empirical_ntk(apply_readout, result.params, X)
    np.testing.assert_array_equal(K_end, empirical_ntk(apply_readout, params0["readout"], X))


def test_weight_change_norms_and_snapshots():
    X, y = _problem()
    model = mlp(3, [64], head="swish")
    params0 = model.init(jax.random.key(3))
    result = gradient_descent(model.apply, params0, X, y, learning_rate=1.0, max_steps=200,
                              tol=0.0, snapshot_steps=[0, 50, 100, 200])
    np.testing.assert_array_equal(result.snapshot_steps, [0, 50, 100, 200])
    delta = np.concatenate([np.ravel(result.params[k] - params0[k]) for k in params0])
    assert result.weight_change_l2 == pytest.approx(np.linalg.norm(delta), rel=1e-5)
    assert result.weight_change_linf == pytest.approx(np.max(np.abs(delta)), rel=1e-6)
    K0 = result.kernels[0]
    expected = np.linalg.norm(result.kernels[-1] - K0) / np.linalg.norm(K0)
    assert result.delta_k[-1] == pytest.approx(expected, rel=1e-3)


def _linear_model(params, X):
    """f(w; x) = <w, x>: a model whose tangent kernel is X X^T at every w."""
    return X @ params["w"]


def test_top_kernel_eigenvalue_is_the_largest_squared_singular_value_over_n():
    from ntk_linearity import kernel_top_eigenvalue

    X, _ = _problem(n=10, d=4)
    params = {"w": jnp.zeros(4)}
    expected = np.linalg.svd(np.asarray(X), compute_uv=False)[0] ** 2 / 10  # lambda_max(X X^T / n)
    assert kernel_top_eigenvalue(_linear_model, params, X) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(("ratio", "stable"), [(0.9, True), (1.1, False)])
def test_the_critical_learning_rate_separates_convergence_from_divergence_on_a_linear_model(ratio, stable):
    """For a linear model GD on (1/2n) sum (f - y)^2 is r -> (I - eta K/n) r: stable iff eta < 2/lambda_0."""
    from ntk_linearity import kernel_top_eigenvalue

    X, y = _problem(n=10, d=4)
    params = {"w": jnp.zeros(4)}
    eta = ratio * 2.0 / kernel_top_eigenvalue(_linear_model, params, X)
    run = lambda: gradient_descent(_linear_model, params, X, y, learning_rate=eta, max_steps=3000, tol=0.0,
                                   divergence_factor=1e6)
    if stable:
        result = run()
        assert result.losses[-1] < result.losses[0]
    else:
        with pytest.raises(DivergenceError):
            run()


# --------------------------------------------------------------------------------------------------
# Blocked steps of wide one-hidden-layer nets
# --------------------------------------------------------------------------------------------------

BLOCKED_CASES = [
    dict(activation="tanh", head="linear"),
    dict(activation="tanh", head="softmax", n_out=3),
    pytest.param(dict(activation="softplus", head="swish", train_last_layer=False, parameterization="standard"),
                 marks=pytest.mark.slow),
    dict(activation="tanh", head="swish", output_scale=10.0),
]


@pytest.mark.parametrize("settings", BLOCKED_CASES)
def test_blocked_steps_are_the_gradient_steps(settings):
    """100 hidden units in blocks of 16 (six blocks and a rest of 4), float64: 30 blocked steps give the
    parameters and losses of 30 steps on jax.grad to rounding."""
    with jax.enable_x64(True):
        model = mlp(4, [100], dtype="float64", **settings)
        params = model.init(jax.random.key(0))
        X = jax.random.normal(jax.random.key(1), (6, 4), jnp.float64)
        y = jax.random.uniform(jax.random.key(2), (6,) if model.n_out == 1 else (6, 3), jnp.float64)
        assert not training.takes_blocked_steps(model.apply)
        finals = []
        for start, run in (training._gd_functions(model.apply, "square"),
                           training._blocked_gd_functions(model, "square", block=16)):
            loss0, aux = start(params, X, y)
            losses = jnp.zeros(31).at[0].set(loss0)
            finals.append(jax.tree.map(np.asarray, run(params, loss0, aux, losses, 0, 30, 0.05, 0.0, 1e30, X, y)))
        params = jax.tree.map(np.asarray, params)
    (p_grad, loss_grad, _, losses_grad, steps_grad), (p_block, loss_block, _, losses_block, steps_block) = finals
    assert int(steps_grad) == int(steps_block) == 30
    np.testing.assert_allclose(losses_block, losses_grad, rtol=1e-12)
    assert float(loss_block) < float(losses_grad[0])
    assert np.max(np.abs(p_block["layer_1"] - params["layer_1"])) > 1e-3  # the steps moved w
    for name in params:
        np.testing.assert_allclose(p_block[name], p_grad[name], rtol=1e-12, atol=1e-14)
    if not model.train_last_layer:
        np.testing.assert_array_equal(p_block["readout"], params["readout"])


def test_wide_one_hidden_layer_nets_take_blocked_steps():
    wide = training.BLOCKED_MIN_WIDTH
    assert training.takes_blocked_steps(mlp(3, [wide]).apply)
    assert not training.takes_blocked_steps(mlp(3, [wide - 1]).apply)
    assert not training.takes_blocked_steps(mlp(3, [wide, 8]).apply)  # two hidden layers
    assert not training.takes_blocked_steps(lambda p, X: mlp(3, [wide]).apply(p, X))


def test_gradient_descent_on_a_blocked_width_matches_the_unblocked_run(monkeypatch):
    """m = BLOCKED_MIN_WIDTH + 100 (blocks and a rest), float32, 300 steps at eta lambda_0 = 1: the
    blocked run and the run on jax.grad (the blocked path switched off) agree to float32 rounding."""
    X, y = _problem(n=8, d=2)
    wide = mlp(2, [training.BLOCKED_MIN_WIDTH + 100])
    params = wide.init(jax.random.key(3))
    eta = 1.0 / training.kernel_top_eigenvalue(wide.apply, params, X)
    descend = lambda: gradient_descent(wide.apply, params, X, y, learning_rate=eta, max_steps=300, tol=0.0)  # noqa: E731
    assert training.takes_blocked_steps(wide.apply)
    blocked = descend()
    monkeypatch.setattr(training, "BLOCKED_MIN_WIDTH", 10 * training.BLOCKED_MIN_WIDTH)
    training._gd_functions.cache_clear()
    assert not training.takes_blocked_steps(wide.apply)
    unblocked = descend()
    training._gd_functions.cache_clear()
    assert blocked.losses[-1] < 0.5 * blocked.losses[0]
    np.testing.assert_allclose(blocked.losses, unblocked.losses, rtol=1e-4)
    np.testing.assert_allclose(blocked.params["layer_1"], unblocked.params["layer_1"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(blocked.delta_k, unblocked.delta_k, rtol=1e-2, atol=1e-6)
