"""The step size across the linearised stability limit, the spectrum of K_t/n along the path and the
fitted rate of the loss (Theorem 5.1), each against a closed form or an independent computation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from network_settings import descend, make_mlp
from ntk_linearity import (
    DivergenceError,
    empirical_ntk,
    kernel_spectrum,
    kernel_top_eigenvalue,
    loss_decay_rate,
)

# ---------------------------------------------------------------------------------------------
# A two-layer linear network of width 1: f(u, v; x) = v u x / sqrt(1) / sqrt(1), one sample x = 1, y = 0
# ---------------------------------------------------------------------------------------------
U0, V0 = 1.0, 0.05  # K(w_0) = u^2 + v^2 = 1.0025, f(w_0) = u v = 0.05


def _width_one():
    model = make_mlp(1, [1], activation="linear")
    params = {"layer_1": jnp.array([[U0]]), "readout": jnp.array([[V0]])}
    return model, params, jnp.ones((1, 1)), jnp.zeros((1,))


def _by_hand(eta: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """GD on L = (1/2)(u v - 0)^2 written out: u <- u - eta r v, v <- v - eta r u, r = u v. Returns
    the losses L_t and the kernels lambda_t = u_t^2 + v_t^2 (so K/n = lambda, n = 1), t = 0 .. steps.
    (Then r' = r (1 - eta lambda + eta^2 r^2) and lambda' = lambda + eta r^2 (eta lambda - 4): above
    eta lambda = 2 the residual grows while lambda shrinks, above 4 both grow.)"""
    u, v = U0, V0
    losses, kernels = [], []
    for _ in range(steps + 1):
        r = u * v
        losses.append(0.5 * r * r)
        kernels.append(u * u + v * v)
        u, v = u - eta * r * v, v - eta * r * u
    return np.array(losses), np.array(kernels)


def test_width_one_critical_step_is_two_over_the_kernel():
    model, params, X, _ = _width_one()
    assert kernel_top_eigenvalue(model.apply, params, X) == pytest.approx(U0**2 + V0**2, rel=1e-6)


@pytest.mark.parametrize("eta_lambda0", [1.5, 3.0])
def test_width_one_gradient_descent_is_the_closed_form_recursion(eta_lambda0):
    model, params, X, y = _width_one()
    eta = eta_lambda0 / (U0**2 + V0**2)
    result = descend(model.apply, params, X, y, learning_rate=eta, max_steps=60, tol=0.0,
                     snapshot_steps=range(61))
    losses, kernels = _by_hand(eta, result.steps)
    np.testing.assert_allclose(result.losses, losses, rtol=2e-3, atol=1e-9)
    spectrum = kernel_spectrum(result.kernels, 1)
    np.testing.assert_allclose(spectrum.lambda_max, kernels[result.snapshot_steps], rtol=1e-4)
    np.testing.assert_allclose(spectrum.lambda_min, spectrum.lambda_max)  # a 1 x 1 kernel
    if eta_lambda0 < 2:  # stable: the loss only falls and the kernel hardly moves
        assert np.all(np.diff(losses) <= 0) and abs(kernels[-1] / kernels[0] - 1) < 0.05
    else:  # the catapult: the loss rises, the kernel falls below 2 / eta, then the loss falls
        assert losses.max() > 10 * losses[0] and eta * kernels[-1] < 2 and losses[-1] < losses[0]


def test_width_one_beyond_four_over_the_kernel_diverges():
    model, params, X, y = _width_one()
    eta = 4.5 / (U0**2 + V0**2)
    losses, kernels = _by_hand(eta, 6)
    assert np.all(np.diff(kernels) > 0) and losses[-1] > 1e3 * losses[0]  # the closed form blows up
    with pytest.raises(DivergenceError):
        descend(model.apply, params, X, y, learning_rate=eta, max_steps=200, tol=0.0)


# ---------------------------------------------------------------------------------------------
# The extreme eigenvalues of K/n against numpy on a kernel written out by hand
# ---------------------------------------------------------------------------------------------


def _kernel_by_hand(params, X) -> np.ndarray:
    """The tangent kernel of the one-hidden-layer tanh network z = V^T tanh(W^T x / sqrt(d)) / sqrt(m)
    (NTK parameterisation), in numpy: K_z[(i,c),(j,c')] = delta_cc' <s_i, s_j> / m
    + V_c^T (s'_i * s'_j * V_c') <x_i, x_j> / (d m), s = tanh(a), s' = 1 - s^2; with C > 1 outputs the
    softmax head's probabilities p = softmax(z) have K = S_i K_z S_j, S_i = diag(p_i) - p_i p_i^T."""
    W, V = (np.asarray(params[k], np.float64) for k in ("layer_1", "readout"))
    (n, d), (m, C) = X.shape, V.shape
    X = np.asarray(X, np.float64)
    s = np.tanh(X @ W / np.sqrt(d))
    ds = 1 - s**2
    readout = (s @ s.T / m)[:, None, :, None] * np.eye(C)[None, :, None, :]
    hidden = np.einsum("ia,ja,ac,ae->icje", ds, ds, V, V) * (X @ X.T / (d * m))[:, None, :, None]
    K = (readout + hidden).reshape(n * C, n * C)
    if C == 1:
        return K
    z = s @ V / np.sqrt(m)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    S = np.zeros((n * C, n * C))
    for i in range(n):
        S[i * C:(i + 1) * C, i * C:(i + 1) * C] = np.diag(p[i]) - np.outer(p[i], p[i])
    return S @ K @ S


def test_spectrum_of_the_kernels_matches_numpy_on_a_kernel_by_hand():
    n = 10
    X = jax.random.normal(jax.random.key(0), (n, 3))
    model = make_mlp(3, [64])
    path = [model.init(jax.random.key(1)), model.init(jax.random.key(2))]  # two points w_t
    kernels = np.stack([empirical_ntk(model.apply, w, X) for w in path])
    spectrum = kernel_spectrum(kernels, n)
    for t, w in enumerate(path):
        by_hand = _kernel_by_hand(w, X)
        np.testing.assert_allclose(kernels[t], by_hand, rtol=1e-4, atol=1e-5)  # the kernel itself
        eigenvalues = np.linalg.eigvalsh(by_hand / n)
        assert spectrum.lambda_max[t] == pytest.approx(eigenvalues[-1], rel=1e-4)
        assert spectrum.lambda_min[t] == pytest.approx(eigenvalues[0], rel=1e-3)


def test_softmax_lambda_min_skips_the_n_null_directions_of_the_simplex():
    n, C = 6, 3
    rng = np.random.default_rng(2)
    X = rng.normal(size=(n, 4))
    params = {"layer_1": rng.normal(size=(4, 32)), "readout": rng.normal(size=(32, C))}  # N(0, 1), as init
    K = _kernel_by_hand(params, X)
    eigenvalues = np.linalg.eigvalsh(K / n)
    # the probabilities of a sample sum to one, so K has exactly n null directions
    null = np.abs(eigenvalues[:n]).max()
    assert null < 1e-9 * eigenvalues[-1] and eigenvalues[n] > 1e-4 * eigenvalues[-1]
    spectrum = kernel_spectrum(K, n, outputs_sum_to_one=True)
    assert spectrum.lambda_min[0] == pytest.approx(eigenvalues[n], rel=1e-6)
    assert spectrum.lambda_max[0] == pytest.approx(eigenvalues[-1], rel=1e-9)
    assert kernel_spectrum(K, n).lambda_min[0] < 1e-9 * eigenvalues[-1]  # without the projection: ~0
    with pytest.raises(ValueError, match="outputs that sum to one need C >= 2 outputs"):
        kernel_spectrum(np.eye(n), n, outputs_sum_to_one=True)


# ---------------------------------------------------------------------------------------------
# The fitted exponential rate of the loss
# ---------------------------------------------------------------------------------------------


def test_fitted_rate_of_a_geometric_loss_is_its_rate():
    eta, lam = 0.5, 0.03
    t = np.arange(400)
    linear_mode = 0.7 * (1 - eta * lam) ** (2 * t)  # one mode of a linear model: L_t = L_0 (1 - eta lambda)^{2t}
    assert loss_decay_rate(linear_mode) == pytest.approx(-2 * np.log(1 - eta * lam), rel=1e-9)
    # two modes: the tail is the slow one's
    two_modes = linear_mode + 5.0 * (1 - eta * 1.5) ** (2 * t)
    assert loss_decay_rate(two_modes) == pytest.approx(-2 * np.log(1 - eta * lam), rel=1e-6)
    assert loss_decay_rate(np.exp(-0.1 * t), window=0.1) == pytest.approx(0.1, rel=1e-9)
    assert np.isnan(loss_decay_rate([1.0, 0.5, 0.25], window=0.5))  # 2 points in the window
    with pytest.raises(ValueError, match="window must be in"):
        loss_decay_rate(linear_mode, window=0.0)
