"""Convolutional networks and ResNets: structured kernel vs per-sample Jacobians (both contractions),
Eq. 6, kernel differences, Lanczos vs dense Hessian, gradient descent, antisymmetric init, images."""

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from network_settings import descend, make_cnn, make_resnet
from ntk_linearity import (
    delta_k_noise_floor,
    empirical_ntk,
    hessian_spectral_norm,
    kernel_difference,
    ntk_diagonal,
    synthetic_images,
)
from ntk_linearity.numerics import gram, kernels
from ntk_linearity.numerics.conv import image_patches

SHAPE = (4, 4, 2)

MODELS = {
    # GAP, linear head, channel bottleneck in the middle
    "cnn-linear-gap-bottleneck": lambda: make_cnn(SHAPE, (6, 2, 6)),
    # flatten, softmax head (multi-output kernel)
    "cnn-softmax-flatten": lambda: make_cnn(SHAPE, (4, 6), activation="gelu", head="softmax", n_out=3,
                                            pooling="flatten"),
    # two stages (stride-2 downsampling), swish head, frozen readout
    "resnet-swish-frozen": lambda: make_resnet(SHAPE, (4, 6), blocks=(1, 2), activation="swish", head="swish",
                                               train_last_layer=False),
    # the downsampled wide stage (2 x 2 positions, 24 channels) takes the position-Gram contraction;
    # sigmoid head, 2 outputs, flatten
    "resnet-sigmoid-positions": lambda: make_resnet(SHAPE, (4, 24), blocks=(1, 1), head="sigmoid", n_out=2,
                                                    pooling="flatten"),
}


@lru_cache(maxsize=None)
def _images(seed=1):
    """Six smooth images of shape SHAPE (one compile of the generator for the whole module)."""
    return synthetic_images(seed, 6, *SHAPE, amplitude=0.25, frequency=1.0, n_classes=2, temperature=1.0,
                            smoothness=1.0)["X"]


def _relative_error(A, B):
    return float(jnp.max(jnp.abs(A - B)) / jnp.max(jnp.abs(B)))


@pytest.mark.parametrize("name", [pytest.param(name, marks=[pytest.mark.slow] if i >= 2 else [])
                                  for i, name in enumerate(MODELS)])
def test_structured_matches_jacobian_and_eq6(name):
    """Structured (per-layer factors) vs per-sample Jacobian kernel, on X and on (X, X2); the diagonal
    equals ||grad_w f||^2 taken directly (Eq. 6 / 12) for every head."""
    model = MODELS[name]()
    params = model.init(jax.random.key(0))
    X, X2 = _images(), _images(seed=2)[:3]
    n_out = model.n_out
    for second in (None, X2) if model.n_out > 1 else (None,):  # (X, X2): the multi-output models
        structured = empirical_ntk(model.apply, params, X, second, method="structured")
        jacobian = empirical_ntk(model.apply, params, X, second, method="jacobian", chunk_size=3)
        n2 = 6 if second is None else 3
        assert structured.shape == (6 * n_out, n2 * n_out)
        assert _relative_error(structured, jacobian) < 1e-5
    K = np.asarray(empirical_ntk(model.apply, params, X))  # auto -> structured
    np.testing.assert_allclose(K, K.T, rtol=0, atol=1e-6 * np.abs(K).max())
    diag = np.asarray(ntk_diagonal(model.apply, params, X)).reshape(6, n_out)
    jacobian_of_one = jax.jit(jax.jacrev(lambda p, x: jnp.reshape(model.apply(p, x[None]), (-1,))))
    for i in (0, 5):
        grads = jacobian_of_one(params, X[i])  # leaves of shape (n_out, *weight shape)
        for c in range(n_out):
            squared_norm = sum(float(jnp.sum(g[c] ** 2)) for g in jax.tree.leaves(grads))
            assert diag[i, c] == pytest.approx(squared_norm, rel=1e-5)
            assert K[i * n_out + c, i * n_out + c] == pytest.approx(squared_norm, rel=1e-5)


@pytest.mark.slow  # make test stays under 10 minutes on 2 cores; make test-all runs it
def test_both_spatial_contractions_are_exercised_and_agree():
    """The flop rule picks per-sample gradients for the full-resolution layers and position Grams for
    the downsampled wide stage; on the same factors both contractions (and both diagonals) agree."""
    model = MODELS["resnet-sigmoid-positions"]()
    params = model.init(jax.random.key(0))
    factors = kernels._factor_fn(model.apply, "structured")(params, _images())
    spatial = [(G, A) for G, A, _ in factors if A.ndim == 3]
    routes = [gram._uses_sample_gradients(6, 6, G, A) for G, A in spatial]
    assert set(routes) == {True, False}

    @jax.jit
    def both(G, A):
        J = gram._sample_gradients(G, A)
        by_gradients = jnp.einsum("icx,jdx->icjd", J, J)
        return (by_gradients, gram._position_gram(G, A, G, A),
                jnp.einsum("icic->ic", by_gradients), gram._spatial_diagonal(G, A))

    for G, A in spatial:
        by_gradients, by_positions, diagonal, spatial_diagonal = both(G, A)
        assert _relative_error(by_positions, by_gradients) < 1e-5
        assert _relative_error(spatial_diagonal, diagonal) < 1e-5


def test_antisymmetric_init_gives_zero_output():
    X = _images()
    for model in (
        make_cnn(SHAPE, (4, 6), head="swish", init_scheme="antisymmetric"),
        make_cnn(SHAPE, (4, 6), head="softmax", n_out=3, pooling="flatten", init_scheme="antisymmetric"),
        make_resnet(SHAPE, (4, 6), blocks=2, init_scheme="antisymmetric"),
    ):
        params = model.init(jax.random.key(2))
        head_at_zero = {"swish": 0.0, "softmax": 1 / 3, "linear": 0.0}[model.head]
        np.testing.assert_allclose(jax.jit(model.apply)(params, X), head_at_zero, atol=1e-6)
        iid = model.__class__(**{**model.__dict__, "init_scheme": "iid"})
        assert float(jnp.max(jnp.abs(jax.jit(iid.apply)(iid.init(jax.random.key(2)), X) - head_at_zero))) > 1e-3
    with pytest.raises(ValueError, match="even"):
        make_cnn(SHAPE, (4, 5), init_scheme="antisymmetric")


def test_forward_matches_a_reference_on_lax_convolutions_and_init_draws_each_shape():
    """The model's convolutions (input patches times weights) against XLA's convolution, layer by
    layer; its weights are the numbers ``jax.random.normal`` draws for each shape."""
    model = make_cnn(SHAPE, (4, 6), pooling="flatten")
    params = model.init(jax.random.key(0))
    keys = jax.random.split(jax.random.key(0), 3)
    for k, (name, shape) in zip(keys, model.param_shapes.items()):
        np.testing.assert_array_equal(params[name], jax.random.normal(k, shape))
    a = X = _images()
    for name, c_in in (("conv_1", SHAPE[2]), ("conv_2", 4)):
        z = jax.lax.conv_general_dilated(a, params[name], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        a = jnp.tanh(z / jnp.sqrt(9.0 * c_in))
    reference = a.reshape(len(X), -1) @ params["readout"] / jnp.sqrt(float(a[0].size))
    np.testing.assert_allclose(model.apply(params, X), reference[:, 0], rtol=1e-5, atol=1e-6)


def test_parameter_count_and_flat_inputs():
    model = make_resnet((5, 5, 2), (4, 6), blocks=(1, 2), pooling="flatten")
    params = model.init(jax.random.key(0))
    assert model.n_params == ravel_pytree(params)[0].size
    assert model.output_spatial_shape == (3, 3)  # SAME padding, one stride-2 stage: ceil(5 / 2)
    X = jax.random.normal(jax.random.key(1), (3, 5, 5, 2))
    apply = jax.jit(model.apply)
    np.testing.assert_array_equal(apply(params, X), apply(params, X.reshape(3, -1)))
    a = jax.random.normal(jax.random.key(2), (2, 5, 6, 3))
    W = jax.random.normal(jax.random.key(3), (3, 3, 3, 4))
    for stride in (1, 2):  # im2col patches reproduce the SAME convolution, in HWIO order
        conv = jax.lax.conv_general_dilated(a, W, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        np.testing.assert_allclose(image_patches(a, 3, stride) @ W.reshape(-1, 4), conv, rtol=1e-5, atol=1e-5)
    frozen = make_cnn(SHAPE, (4,), train_last_layer=False)
    assert frozen.n_params == 9 * 2 * 4


@pytest.mark.slow  # make test stays under 10 minutes on 2 cores; make test-all runs it
def test_kernel_difference_and_noise_floor():
    """K(w) - K(w_0) from factor changes (both spatial contractions) equals the difference of two
    separately computed float64 kernels; delta_k_noise_floor runs on the same model."""
    model = MODELS["resnet-sigmoid-positions"]()
    params0 = model.init(jax.random.key(0))
    noise = model.init(jax.random.key(7))
    params = jax.tree.map(lambda w, e: w + 0.05 * e, params0, noise)
    X = _images()
    dK = kernel_difference(model.apply, params, params0, X)
    floor = delta_k_noise_floor(model.apply, params, params0, X)
    with jax.enable_x64(True):
        to64 = lambda tree: jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)  # noqa: E731
        K0 = empirical_ntk(model.apply, to64(params0), to64(X))
        reference = empirical_ntk(model.apply, to64(params), to64(X)) - K0
        delta_k = float(jnp.linalg.norm(reference) / jnp.linalg.norm(K0))
        error = float(jnp.max(jnp.abs(dK - reference)) / jnp.max(jnp.abs(reference)))
    assert error < 1e-4
    assert floor.delta_k_float64 == pytest.approx(delta_k, rel=1e-6)
    assert floor.estimator_error < 1e-4 * floor.delta_k_float64


@pytest.mark.parametrize(
    "build",
    [lambda: make_cnn(SHAPE, (3, 4), head="softmax", n_out=2),
     lambda: make_resnet(SHAPE, (3,), blocks=1, activation="swish")],
    ids=["cnn-softmax", "resnet"],
)
def test_lanczos_matches_dense_hessian(build):
    model = build()
    params = model.init(jax.random.key(3))
    x = _images()[0].reshape(-1)  # a flattened image: hessian_spectral_norm takes x of shape (d,)
    flat, unravel = ravel_pytree(params)
    result = hessian_spectral_norm(model.apply, params, x, steps=flat.size)
    norms = np.atleast_1d(np.asarray(result.norm))
    hessian = jax.jit(jax.hessian(lambda w, c: jnp.reshape(model.apply(unravel(w), x[None]), (-1,))[c]))
    for c in range(model.n_out):
        dense = float(jnp.max(jnp.abs(jnp.linalg.eigvalsh(hessian(flat, c)))))
        assert norms[c] == pytest.approx(dense, rel=1e-4)


@pytest.mark.slow
def test_gradient_descent_on_cnn():
    """GD runs unchanged; the kernels it records (K_0 + Delta K from factor changes) agree with kernels
    computed directly at w_0 and w_T, and Delta K with their difference."""
    model = make_cnn(SHAPE, (8, 8), head="swish", init_scheme="antisymmetric")
    data = synthetic_images(0, 6, *SHAPE, amplitude=0.25, frequency=1.0, n_classes=2, temperature=1.0,
                            smoothness=1.0)
    params0 = model.init(jax.random.key(0))
    K0 = empirical_ntk(model.apply, params0, data["X"])
    lr = float(1.0 / jnp.linalg.eigvalsh(K0 / 6)[-1])
    result = descend(model.apply, params0, data["X"], data["y"], learning_rate=lr,
                     max_steps=300, tol=1e-5, n_snapshots=3)
    assert result.converged and result.losses[-1] < 1e-3 * result.losses[0]
    KT = empirical_ntk(model.apply, result.params, data["X"])
    assert _relative_error(result.kernels[0], K0) == 0.0
    assert _relative_error(result.kernels[-1], KT) < 1e-4
    assert result.delta_k[-1] == pytest.approx(float(jnp.linalg.norm(KT - K0) / jnp.linalg.norm(K0)), rel=1e-3)


def test_synthetic_images_properties():
    amplitude, frequency, temperature, s = 0.25, 0.3, 2.0, 2.0
    # a short correlation length here, so that the 16 pixels are far from collinear for the fits
    data = synthetic_images(3, 400, 4, 4, 1, amplitude=amplitude, frequency=frequency, n_classes=3,
                            temperature=temperature, smoothness=0.7)
    X, y, y_class = data["X"], data["y"], data["y_class"]
    n, dim = X.shape[0], 16
    assert X.shape == (n, 4, 4, 1) and y.shape == (n,) and y_class.shape == (n, 3)
    np.testing.assert_allclose(jnp.mean(X**2, axis=(1, 2, 3)), 1.0, rtol=1e-5)  # mean square 1
    assert float(jnp.max(jnp.abs(y))) <= amplitude  # in the swish range for amplitude 0.25
    np.testing.assert_allclose(y_class.sum(axis=1), 1.0, rtol=1e-5)
    # |frequency <U, x>| / sqrt(dim) <= frequency sqrt(dim) = 1.2 < pi/2, so arcsin inverts the sine:
    # the phase is a linear function of x with weight U / sqrt(dim), whose norm is exactly 1.
    flat = np.asarray(X.reshape(n, dim), np.float64)
    phase = np.arcsin(np.asarray(y, np.float64) / amplitude) / frequency
    w, *_ = np.linalg.lstsq(flat, phase, rcond=None)
    assert np.max(np.abs(flat @ w - phase)) < 1e-4 and np.linalg.norm(w) == pytest.approx(1.0, rel=1e-4)
    np.testing.assert_allclose(np.arcsin(-np.asarray(y) / amplitude) / frequency, (-flat) @ w, atol=1e-4)  # odd
    logits = np.log(np.asarray(y_class, np.float64))
    logits -= logits.mean(axis=1, keepdims=True)
    W, *_ = np.linalg.lstsq(flat, logits, rcond=None)
    assert np.max(np.abs(flat @ W - logits)) < 1e-4  # softmax(T U_c x / sqrt(dim)): linear logits
    # smooth fields: correlation at pixel distance delta is exp(-delta^2 / (4 s^2)) (Gaussian filter)
    # (per-image normalisation biases the estimate by O(s^2 / (H W)): 32 x 32 images keep it < 0.01)
    big = synthetic_images(4, 100, 32, 32, 1, amplitude=amplitude, frequency=frequency, n_classes=2,
                           temperature=temperature, smoothness=s)["X"][..., 0]
    for delta in (1, 3):
        correlation = float(jnp.mean(big * jnp.roll(big, delta, axis=2)) / jnp.mean(big**2))
        assert correlation == pytest.approx(np.exp(-(delta**2) / (4 * s**2)), abs=0.03)
    again = synthetic_images(3, 400, 4, 4, 1, amplitude=amplitude, frequency=frequency, n_classes=3,
                            temperature=temperature, smoothness=0.7)
    np.testing.assert_array_equal(again["X"], X)
