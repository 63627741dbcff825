"""The infinite-width NTK Theta of the mlp family, each number checked against an independent source:
closed forms against Gauss–Hermite quadrature, each layer of the recursion against Monte Carlo sampling
of Gaussian pre-activations, and Theta against the mean of many empirical kernels K(w_0) at a large
width (entry by entry, in standard errors)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from network_settings import make_mlp
from ntk_linearity import ACTIVATIONS, empirical_ntk
from ntk_linearity.numerics.gauss_hermite import derivative
from ntk_linearity.numerics.infinite_width import (
    CLOSED_FORMS,
    QUADRATURE_TOLERANCE,
    gaussian_expectations,
    infinite_width_ntk,
    infinite_width_ntk_of,
    kernel_deviation,
    layer_kernels,
    not_derived_reason,
)

MAX_Z = 5.0  # largest |z| allowed over the entries (a few tens of correlated entries per case)


def _sphere(n, d, seed):
    X = np.random.default_rng(seed).standard_normal((n, d))
    return X * np.sqrt(d) / np.linalg.norm(X, axis=1, keepdims=True)


COVARIANCES = [(s11, rho * np.sqrt(s11 * s22), s22) for s11, s22 in [(1.0, 1.0), (0.3, 2.0), (1.5, 0.7)]
               for rho in (-1.0, -0.6, 0.0, 0.45, 0.99, 1.0)]


def _expectations(activation, nodes):
    with jax.enable_x64(True):
        s11, s12, s22 = (jnp.asarray(c, jnp.float64) for c in zip(*COVARIANCES))
        return tuple(np.asarray(e) for e in gaussian_expectations(activation, s11, s12, s22, nodes))


@pytest.mark.parametrize("activation", ["erf", "linear"])
def test_quadrature_matches_smooth_closed_forms(activation):
    """erf (Williams' arcsin kernel and det(I + 2S)^(-1/2)) and the identity: exact to round-off."""
    for quadrature, closed in zip(_expectations(activation, 96), _expectations(activation, None)):
        np.testing.assert_allclose(quadrature, closed, rtol=1e-10, atol=1e-13)


def test_quadrature_approaches_relu_arc_cosine_kernels():
    """ReLU's kink: the quadrature converges slowly, but towards the arc-cosine kernels."""
    closed = _expectations("relu", None)
    errors = [max(np.max(np.abs(q - c)) for q, c in zip(_expectations("relu", nodes), closed)) for nodes in (16, 128)]
    assert errors[1] < 1e-2 and errors[1] < errors[0] / 2


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_each_layer_of_the_recursion_matches_monte_carlo(activation):
    """Depth 3: at every layer, sample the pre-activations of 3 inputs from N(0, S^l) (the module's
    own S^l) and average sigma(u) sigma(v) and sigma'(u) sigma'(v): S^{l+1} and Sdot^{l+1} within a few
    standard errors; S^1 = x.x'/d exactly."""
    X = _sphere(3, 4, seed=3) * np.array([[1.0], [0.8], [1.3]])
    kernels = layer_kernels(X, activation=activation, depth=3)
    np.testing.assert_allclose(kernels.sigma[0], X @ X.T / 4, rtol=1e-14)
    sigma, sigma_dot = jax.jit(ACTIVATIONS[activation]), jax.jit(derivative(ACTIVATIONS[activation]))
    rng, samples = np.random.default_rng(7), 100_000
    for layer in range(3):
        U = rng.standard_normal((samples, 3)) @ np.linalg.cholesky(kernels.sigma[layer]).T
        for f, expected in ((sigma, kernels.sigma[layer + 1]), (sigma_dot, kernels.sigma_dot[layer])):
            F = np.asarray(f(jnp.asarray(U, jnp.float32)), np.float64)
            products = F[:, :, None] * F[:, None, :]
            z = (products.mean(0) - expected) / (products.std(0) / np.sqrt(samples))
            assert np.max(np.abs(z)) < MAX_Z, (layer, z)


def test_quadrature_node_count_converges_on_the_data():
    """The node count chosen on the probe inputs holds on the data: doubling it changes every layer
    kernel by less than the tolerance."""
    X = _sphere(12, 5, seed=1) * np.linspace(0.7, 1.2, 12)[:, None]
    chosen = layer_kernels(X, activation="tanh", depth=3)
    finer = layer_kernels(X, activation="tanh", depth=3, nodes=2 * chosen.nodes)
    for coarse, fine in ((chosen.sigma, finer.sigma), (chosen.sigma_dot, finer.sigma_dot)):
        change = np.max(np.abs(coarse - fine), axis=(1, 2)) / np.max(np.abs(fine), axis=(1, 2))
        assert np.max(change) < QUADRATURE_TOLERANCE


CASES = [  # (activation, depth, train_last_layer, init_scheme, output_scale, n_out)
    ("relu", 1, True, "iid", 1.0, 1),
    ("relu", 2, False, "iid", 1.0, 1),
    ("tanh", 3, True, "iid", 1.0, 2),  # C = 2: Theta ⊗ I_C, rows sample * C + output
    ("tanh", 3, True, "antisymmetric", 0.5, 1),  # the lower layers' gradients cancel exactly
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-depth{c[1]}-{c[3]}-C{c[5]}")
def test_theta_is_the_mean_of_empirical_kernels(case):
    """The mean of K(w_0) over 32 initialisations at width 512 against Theta, entry by entry in
    standard errors (a depth >= 2 mean is biased by O(1/m), a fraction sqrt(32/512) of a standard
    error); the deviation of a single K(w_0) is of order m^(-1/2)."""
    activation, depth, train_last_layer, init_scheme, output_scale, n_out = case
    X, width, seeds = _sphere(4, 3, seed=2), 512, 32
    options = dict(activation=activation, train_last_layer=train_last_layer, init_scheme=init_scheme,
                   output_scale=output_scale, n_out=n_out)
    model = make_mlp(3, [width] * depth, **options)
    kernel = jax.jit(lambda key: empirical_ntk(model.apply, model.init(key), jnp.asarray(X, jnp.float32)))
    kernels = np.stack([np.asarray(kernel(jax.random.key(seed)), np.float64) for seed in range(seeds)])
    theta = infinite_width_ntk(X, depth=depth, **options)
    np.testing.assert_array_equal(theta, infinite_width_ntk_of(model, X))
    assert theta.shape == kernels.shape[1:] == (4 * n_out, 4 * n_out)
    z = (kernels.mean(0) - theta) / (kernels.std(0, ddof=1) / np.sqrt(seeds))
    print(f"{case}: max |z| {np.max(np.abs(z)):.2f}, deviation of one K(w_0) {kernel_deviation(kernels[0], theta):.3f}")
    assert np.max(np.abs(z)) < MAX_Z, z
    assert kernel_deviation(kernels[0], theta) < 10 / np.sqrt(width)


def test_not_derived_reasons():
    mlp_settings = dict(activation="tanh", head="linear", parameterization="ntk", width=64, depth=2)
    assert not_derived_reason("mlp", mlp_settings) is None
    for family, changes in [("cnn", {}), ("resnet", {}), ("mlp", {"parameterization": "standard"}),
                            ("mlp", {"head": "softmax"}), ("mlp", {"bottleneck_width": 8})]:
        reason = not_derived_reason(family, mlp_settings | changes)
        assert isinstance(reason, str) and reason.startswith("not derived: "), reason
    assert "standard parameterisation" in not_derived_reason("mlp", mlp_settings | {"parameterization": "standard"})
    with pytest.raises(ValueError, match="not derived: standard parameterisation"):
        infinite_width_ntk_of(make_mlp(3, [8], parameterization="standard"), _sphere(4, 3, seed=0))


def test_kernel_deviation_and_bad_arguments():
    theta = infinite_width_ntk(_sphere(4, 3, seed=0), activation="erf", depth=2, train_last_layer=True,
                               init_scheme="iid", output_scale=1.0)
    assert kernel_deviation(1.1 * theta, theta) == pytest.approx(0.1)
    assert sorted(CLOSED_FORMS) == ["erf", "linear", "relu"]
    with pytest.raises(ValueError, match="one shape"):
        kernel_deviation(theta[:3, :3], theta)
    with pytest.raises(ValueError, match="activation"):
        layer_kernels(_sphere(4, 3, seed=0), activation="sine", depth=1)
