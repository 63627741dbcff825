"""Full-batch gradient descent with kernel snapshots."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from network_settings import descend, make_mlp
from ntk_linearity import DivergenceError, delta_k_noise_floor, empirical_ntk
from ntk_linearity.numerics import training


def _problem(n=12, d=3, seed=0):
    X = jax.random.normal(jax.random.key(seed), (n, d))
    X = X / jnp.linalg.norm(X, axis=1, keepdims=True)
    y = 1.0 + 0.5 * jnp.sin(2.0 * X[:, 0])
    return X, y


def test_loss_falls_below_tolerance():
    X, y = _problem()
    model = make_mlp(3, [256])
    result = descend(model.apply, model.init(jax.random.key(1)), X, y,
                     learning_rate=1.0, max_steps=20000, tol=1e-4)
    assert result.converged and result.losses[-1] <= 1e-4 < result.losses[0]
    assert result.steps == len(result.losses) - 1
    assert result.snapshot_steps[0] == 0 and result.snapshot_steps[-1] == result.steps
    assert result.delta_k[0] == 0.0 and result.delta_k_max > 0


def test_divergence_names_the_learning_rate():
    X, y = _problem()
    model = make_mlp(3, [64])
    with pytest.raises(DivergenceError, match=r"learning_rate=500\.0") as info:
        descend(model.apply, model.init(jax.random.key(1)), X, y,
                learning_rate=500.0, max_steps=500, label="run-x")
    assert "run-x" in str(info.value) and info.value.learning_rate == 500.0


def test_same_seed_is_bit_identical():
    X, y = _problem()
    model = make_mlp(3, [128], head="swish")
    runs = [descend(model.apply, model.init(jax.random.key(7)), X, y,
                    learning_rate=1.0, max_steps=300, tol=0.0) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].losses, runs[1].losses)
    np.testing.assert_array_equal(runs[0].delta_k, runs[1].delta_k)
    np.testing.assert_array_equal(runs[0].params["layer_1"], runs[1].params["layer_1"])


def test_kernel_of_a_model_linear_in_its_parameters_is_exactly_constant():
    """Only the readout trained: f is linear in v, so K(v_t) = K(v_0) exactly (Proposition 2.1)."""
    X, y = _problem()
    model = make_mlp(3, [64])
    params0 = model.init(jax.random.key(2))

    def apply_readout(v, X):
        return model.apply({"layer_1": params0["layer_1"], "readout": v}, X)

    result = descend(apply_readout, params0["readout"], X, y,
                     learning_rate=1.0, max_steps=400, tol=0.0)
    assert result.weight_change_l2 > 0.1
    np.testing.assert_array_equal(result.delta_k, 0.0)
    K_end = empirical_ntk(apply_readout, result.params, X)
    np.testing.assert_array_equal(K_end, empirical_ntk(apply_readout, params0["readout"], X))


def test_weight_change_norms_and_snapshots():
    X, y = _problem()
    model = make_mlp(3, [64], head="swish")
    params0 = model.init(jax.random.key(3))
    result = descend(model.apply, params0, X, y, learning_rate=1.0, max_steps=200,
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
    run = lambda: descend(_linear_model, params, X, y, learning_rate=eta, max_steps=3000, tol=0.0,
                          divergence_factor=1e6)
    if stable:
        result = run()
        assert result.losses[-1] < result.losses[0]
    else:
        with pytest.raises(DivergenceError):
            run()


def test_noise_floor_from_the_training_run_equals_its_own_float32_repeat():
    """gradient_descent's first kernel and last kernel change are what delta_k_noise_floor's float32
    side computes (the same programs): passing them gives the same floor, bit for bit."""
    X, y = _problem()
    model = make_mlp(3, [64], head="swish")
    params0 = model.init(jax.random.key(4))
    result = descend(model.apply, params0, X, y, learning_rate=1.0, max_steps=200, tol=0.0)
    own = delta_k_noise_floor(model.apply, result.params, params0, X)
    passed = delta_k_noise_floor(model.apply, result.params, params0, X,
                                 float32=(result.kernels[0], result.delta_k[-1]))
    assert passed == own
    assert own.delta_k_float32 == result.delta_k[-1] > 0


def test_segments_cut_by_time_change_no_number(monkeypatch):
    """With SEGMENT_SECONDS = 0 every compiled segment takes one step (progress after each), yet the
    losses, kernel changes and final weights are bit-identical to the run in long segments."""
    X, y = _problem()
    model = make_mlp(3, [96], head="swish")
    params0 = model.init(jax.random.key(5))

    def run():
        calls = []
        result = descend(model.apply, params0, X, y, learning_rate=1.0, max_steps=60, tol=0.0,
                         progress=lambda step, total, loss: calls.append(step))
        return result, calls

    long_segments, long_calls = run()
    monkeypatch.setattr(training, "SEGMENT_SECONDS", 0.0)
    one_step, calls = run()
    assert calls == list(range(1, 61)) and len(long_calls) < 30
    np.testing.assert_array_equal(one_step.losses, long_segments.losses)
    np.testing.assert_array_equal(one_step.delta_k, long_segments.delta_k)
    np.testing.assert_array_equal(one_step.snapshot_steps, long_segments.snapshot_steps)
    np.testing.assert_array_equal(one_step.params["layer_1"], long_segments.params["layer_1"])
