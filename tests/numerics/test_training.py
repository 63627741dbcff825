"""Full-batch gradient descent with kernel snapshots."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_linearity import DivergenceError, empirical_ntk, gradient_descent, mlp


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
