"""The network against its linearisation f_lin(w) = f(w_0) + J(w_0)(w - w_0): the two measures of
gradient_descent against explicit gradient descent in parameter space, a model linear in its
parameters, the Taylor bound with the Hessian norm, and the fall with width of a linear output."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from network_settings import descend, make_mlp
from ntk_linearity import empirical_ntk, hessian_spectral_norm, kernel_top_eigenvalue, synthetic_dataset
from ntk_linearity.numerics.linearisation import linearised_step
from ntk_linearity.numerics.training import LOSS_FUNCTIONS

HEAD_OF_LOSS = {"square": "linear", "kl": "softmax"}
NARROW, WIDE = 64, 1024  # 16 x apart; runs of one width and one max_steps share their compiled programs
MAX_STEPS = 400


def _data(n=10, d=4, seed=0):
    """Inputs on the sphere of radius sqrt(d), regression targets and soft labels of 3 classes."""
    data = synthetic_dataset(seed, n, d, amplitude=0.5, frequency=1.5, n_classes=3, temperature=1.5)
    return data["X"], data["y"], data["y_class"]


def _subtract(a, b):
    return jax.tree.map(jnp.subtract, a, b)


def _explicit_descent(apply, params0, X, y, loss_of, learning_rate, steps):
    """Plain GD in parameter space, step by step, on the network and on f_lin (built by jax.linearize):
    the outputs of both at every step, the network's weights and f_lin."""
    outputs0, jvp = jax.linearize(lambda w: apply(w, X), params0)
    f_lin = jax.jit(lambda w: outputs0 + jvp(_subtract(w, params0)))

    def descend_on(f, params):
        gradient = jax.grad(lambda p: loss_of(f(p), y))(params)
        return jax.tree.map(lambda a, g: a - learning_rate * g, params, gradient)

    @jax.jit
    def step(w, v):
        w, v = descend_on(lambda p: apply(p, X), w), descend_on(f_lin, v)
        return w, v, apply(w, X), f_lin(v)

    weights, network, linear = [params0], [outputs0], [outputs0]
    w, v = params0, params0
    for _ in range(steps):
        w, v, outputs, outputs_lin = step(w, v)
        weights.append(w)
        network.append(outputs)
        linear.append(outputs_lin)
    return weights, np.stack(network), np.stack(linear), f_lin


@pytest.mark.parametrize("loss", ["square", "kl"])
def test_both_measures_equal_explicit_descent_on_the_linearised_model(loss):
    """In float64: (i) the function-space step f_lin - eta K(w_0) grad_out L reproduces GD on f_lin in
    parameter space at every step; (ii) gradient_descent's gap and linearisation error equal those of
    the explicit runs (the gap over every step, the error over the snapshots); (iii) without the two
    measures the training is the same."""
    steps, snapshots = 150, [0, 7, 40, 150]
    with jax.enable_x64(True):
        X, y, y_class = (a.astype(jnp.float64) for a in _data())
        targets = y_class if loss == "kl" else y
        model = make_mlp(4, [48], head=HEAD_OF_LOSS[loss], n_out=3 if loss == "kl" else 1, dtype="float64")
        params0 = model.init(jax.random.key(3))
        eta = 0.5 * 2.0 / kernel_top_eigenvalue(model.apply, params0, X)
        weights, network, linear, f_lin = _explicit_descent(model.apply, params0, X, targets,
                                                            LOSS_FUNCTIONS[loss], eta, steps)
        K0, outputs = empirical_ntk(model.apply, params0, X), network[0]
        for t in range(steps):
            outputs = linearised_step(LOSS_FUNCTIONS[loss], K0, eta, outputs, targets)
            np.testing.assert_allclose(outputs, linear[t + 1], rtol=1e-9, atol=1e-11)
        result = descend(model.apply, params0, X, targets, learning_rate=eta, max_steps=steps, tol=0.0,
                         loss=loss, snapshot_steps=snapshots)
        untracked = descend(model.apply, params0, X, targets, learning_rate=eta, max_steps=steps, tol=0.0,
                            loss=loss, snapshot_steps=snapshots, track_linearisation=False)
        gap = np.max(np.linalg.norm((network - linear).reshape(steps + 1, -1), axis=1))
        gap /= np.linalg.norm(np.asarray(targets) - network[0])
        error = max(np.linalg.norm(network[t] - f_lin(weights[t])) for t in snapshots)
        error /= np.linalg.norm(network[-1] - network[0])
    assert result.linearised_gap == pytest.approx(gap, rel=1e-7)
    assert result.linearisation_error == pytest.approx(error, rel=1e-7)
    # (iii) measuring changes nothing of the training (the benchmark's baseline runs it without them)
    np.testing.assert_allclose(untracked.losses, result.losses, rtol=1e-12)
    np.testing.assert_allclose(untracked.delta_k, result.delta_k, rtol=1e-12, atol=1e-15)
    assert np.isnan(untracked.linearised_gap) and np.isnan(untracked.linearisation_error)
    # (with the KL loss the linearised probabilities leave the simplex's interior, where grad L ~ y / p
    # grows without bound: its gap exceeds 1 at this width, as it would in parameter space)
    assert 1e-3 < result.linearisation_error < 1 and 1e-3 < result.linearised_gap


def test_a_model_linear_in_its_parameters_is_its_own_linearisation():
    """Only the readout trained: f is linear in v (Proposition 2.1), so both measures vanish up to
    float32 round-off, although the weights and outputs move by O(1)."""
    X, y, _ = _data()
    model = make_mlp(4, [NARROW])
    params0 = model.init(jax.random.key(2))

    def apply_readout(v, X):
        return model.apply({"layer_1": params0["layer_1"], "readout": v}, X)

    eta = 2.0 * 0.5 / kernel_top_eigenvalue(apply_readout, params0["readout"], X)
    result = descend(apply_readout, params0["readout"], X, y, learning_rate=eta, max_steps=MAX_STEPS, tol=0.0)
    assert result.weight_change_l2 > 0.1 and result.losses[-1] < 0.5 * result.losses[0]
    assert result.linearisation_error < 1e-5 and result.linearised_gap < 1e-5


def test_the_linearisation_error_obeys_the_taylor_bound():
    """Per input x: |f(w_T; x) - f_lin(w_T; x)| <= 1/2 sup_s ||H(w_0 + s(w_T - w_0); x)|| ||w_T - w_0||^2
    (Taylor's theorem, ||H|| by the project's closed form, sup over 21 points of the segment), and so
    the measured error (snapshots at 0 and T only) is at most the bound over ||f(w_T) - f(w_0)||."""
    X, y, _ = _data()
    model = make_mlp(4, [NARROW], head="swish")
    params0 = model.init(jax.random.key(4))
    eta = 0.5 * 2.0 / kernel_top_eigenvalue(model.apply, params0, X)
    result = descend(model.apply, params0, X, y, learning_rate=eta, max_steps=MAX_STEPS, tol=0.0,
                     snapshot_steps=[0, MAX_STEPS])
    step = _subtract(result.params, params0)
    outputs0, change = jax.jvp(lambda w: model.apply(w, X), (params0,), (step,))
    remainder = np.abs(np.asarray(model.apply(result.params, X) - outputs0 - change))
    segment = [jax.tree.map(lambda a, d, s=s: a + s * d, params0, step) for s in np.linspace(0, 1, 21)]
    sup = np.array([max(float(hessian_spectral_norm(model.apply, w, x).norm) for w in segment) for x in X])
    bound = 0.5 * sup * result.weight_change_l2**2
    assert np.all(remainder <= bound)
    moved = np.linalg.norm(model.apply(result.params, X) - outputs0)
    assert 0 < result.linearisation_error <= np.linalg.norm(bound) / moved


def _measures(head: str, width: int, seed: int) -> np.ndarray:
    """(linearisation error, gap) of a run at eta lambda_0 = 1, antisymmetric w_0 (f(w_0) = 0), to 1e-4."""
    X, y, _ = _data()
    model = make_mlp(4, [width], head=head, init_scheme="antisymmetric")
    params0 = model.init(jax.random.key(seed))
    eta = 1.0 / kernel_top_eigenvalue(model.apply, params0, X)
    result = descend(model.apply, params0, X, y, learning_rate=eta, max_steps=MAX_STEPS, tol=1e-4, n_snapshots=10)
    return np.array([result.linearisation_error, result.linearised_gap])


def test_a_linear_output_becomes_its_linearisation_and_a_swish_output_does_not():
    """16 x the width: with a linear output both measures fall at least as fast as the Taylor bound's
    O(1/sqrt m) (ratio <= 1/4; measured 1/25 and 1/20, near the 1/m of Lee et al. 2019: along the GD path
    the second-order terms carry the readout's random signs and mostly cancel, a cancellation that
    the worst-direction bound ||H|| cannot see); with a swish output they stay Theta(1) (Eq. 14)."""
    linear = {m: np.median([_measures("linear", m, seed) for seed in range(3)], axis=0) for m in (NARROW, WIDE)}
    assert np.all(linear[WIDE] / linear[NARROW] < 0.25)
    swish = {m: _measures("swish", m, seed=0) for m in (NARROW, WIDE)}
    assert np.all(swish[WIDE] > 0.1) and np.all(swish[WIDE] / swish[NARROW] > 0.5)
