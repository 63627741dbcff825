"""Standard parameterisation (the paper's Appendix B) and output scaling (Appendix A, Chizat et al.):
the network at w_0, the structured kernel factors and the closed-form Hessian against the NTK
network, per-layer Jacobians, dense Hessians and Lanczos; lazy training against its closed form."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from network_settings import descend, make_mlp
from ntk_linearity import empirical_ntk, hessian_spectral_norm, lazy_targets
from ntk_linearity.numerics.hessian import supports_closed_form


def _inputs(n, d, seed=1):
    X = jax.random.normal(jax.random.key(seed), (n, d))
    return np.sqrt(d) * X / jnp.linalg.norm(X, axis=1, keepdims=True)


@pytest.mark.parametrize("head,n_out,widths,init_scheme", [
    pytest.param("linear", 1, [16], "iid", marks=pytest.mark.slow), ("swish", 1, [12, 8], "antisymmetric"),
    pytest.param("softmax", 3, [10, 6, 10], "iid", marks=pytest.mark.slow)])
def test_standard_network_is_the_ntk_network_with_rescaled_weights(head, n_out, widths, init_scheme):
    """The same key draws W_SP = W_NTK / sqrt(fan_in), and both compute the same function."""
    with jax.enable_x64(True):
        ntk = make_mlp(5, widths, head=head, n_out=n_out, dtype="float64", init_scheme=init_scheme)
        sp = make_mlp(5, widths, head=head, n_out=n_out, dtype="float64", init_scheme=init_scheme,
                      parameterization="standard")
        key, X = jax.random.key(4), _inputs(7, 5).astype(np.float64)
        w_ntk, w_sp = ntk.init(key), sp.init(key)
        rescaled = {name: w_ntk[name] / np.sqrt(fan_in) for name, fan_in in zip(ntk.layer_names, ntk.fan_ins)}
        for name in ntk.layer_names:
            np.testing.assert_allclose(w_sp[name], rescaled[name], rtol=1e-15)
        np.testing.assert_allclose(sp.apply(rescaled, X), ntk.apply(w_ntk, X), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(sp.apply(w_sp, X), ntk.apply(w_ntk, X), rtol=1e-12, atol=1e-14)


def test_standard_init_has_variance_one_over_fan_in():
    params = make_mlp(400, [300], parameterization="standard").init(jax.random.key(0))
    assert float(jnp.var(params["layer_1"])) * 400 == pytest.approx(1.0, abs=0.02)
    assert float(jnp.var(params["readout"])) * 300 == pytest.approx(1.0, abs=0.25)


@pytest.mark.parametrize("head,n_out,train_last_layer", [
    ("linear", 1, True), pytest.param("swish", 1, False, marks=pytest.mark.slow),
    pytest.param("softmax", 3, True, marks=pytest.mark.slow)])
def test_standard_kernel_is_the_fan_in_weighted_sum_of_ntk_layer_kernels(head, n_out, train_last_layer):
    """d f / d W_SP = sqrt(fan_in) d f / d W_NTK at W_SP = W_NTK / sqrt(fan_in), so
    K_SP = sum_l fan_in_l J_l J_l^T with J_l the NTK network's per-layer Jacobian (chain rule)."""
    with jax.enable_x64(True):
        kwargs = dict(activation="tanh", head=head, n_out=n_out, train_last_layer=train_last_layer,
                      dtype="float64")
        ntk, sp = make_mlp(3, [20, 12], **kwargs), make_mlp(3, [20, 12], parameterization="standard", **kwargs)
        X = _inputs(6, 3).astype(np.float64)
        w_ntk = ntk.init(jax.random.key(2))
        jac = jax.jacrev(lambda p: jnp.reshape(ntk.apply(p, X), (-1,)))(w_ntk)
        expected = sum(fan_in * jac[name].reshape(jac[name].shape[0], -1) @ jac[name].reshape(jac[name].shape[0], -1).T
                       for name, fan_in in zip(ntk.layer_names, ntk.fan_ins) if name in ntk.trainable_layers)
        K_sp = empirical_ntk(sp.apply, sp.init(jax.random.key(2)), X, method="structured")
        np.testing.assert_allclose(K_sp, expected, rtol=1e-10, atol=1e-12 * float(jnp.max(jnp.abs(expected))))


@pytest.mark.slow
def test_standard_hessian_blocks_scale_by_the_fan_ins():
    """H_SP[l, l'] = sqrt(fan_in_l fan_in_l') H_NTK[l, l'] (dense Hessians, chain rule)."""
    with jax.enable_x64(True):
        ntk = make_mlp(3, [6, 5], head="swish", dtype="float64")
        sp = make_mlp(3, [6, 5], head="swish", dtype="float64", parameterization="standard")
        x = _inputs(1, 3).astype(np.float64)
        key = jax.random.key(8)
        flat_n, unravel_n = ravel_pytree(ntk.init(key))
        flat_s, unravel_s = ravel_pytree(sp.init(key))
        H_ntk = jax.hessian(lambda w: ntk.apply(unravel_n(w), x)[0])(flat_n)
        H_sp = jax.hessian(lambda w: sp.apply(unravel_s(w), x)[0])(flat_s)
        fan_in = dict(zip(ntk.layer_names, ntk.fan_ins))
        scale = ravel_pytree({name: jnp.full(w.shape, np.sqrt(fan_in[name])) for name, w in ntk.init(key).items()})[0]
        np.testing.assert_allclose(H_sp, scale[:, None] * H_ntk * scale[None, :], rtol=1e-9, atol=1e-12)


def _dense_spectrum(model, params, x, output):
    flat, unravel = ravel_pytree(params)
    H = jax.hessian(lambda w: jnp.reshape(model.apply(unravel(w), x[None]), (-1,))[output])(flat)
    return np.linalg.eigvalsh(np.asarray(H, np.float64))


CLOSED_FORM_CASES = [  # parameterization, output_scale, head, n_out, train_last_layer
    ("standard", 1.0, "linear", 1, True),
    ("standard", 0.3, "swish", 1, True),
    *(pytest.param(*case, marks=pytest.mark.slow) for case in [
        ("ntk", 7.0, "softmax", 3, True),
        ("standard", 1.0, "linear", 1, False), ("ntk", 7.0, "linear", 1, True), ("standard", 0.3, "linear", 1, True),
        ("standard", 1.0, "swish", 1, True), ("ntk", 7.0, "swish", 1, True),
        ("standard", 1.0, "softmax", 3, True), ("standard", 0.3, "softmax", 3, True)]),
]


@pytest.mark.parametrize("parameterization,output_scale,head,n_out,train_last_layer", CLOSED_FORM_CASES)
def test_closed_form_matches_dense_eigvalsh(parameterization, output_scale, head, n_out, train_last_layer):
    """The closed form of the one-hidden-layer Hessian (Eq. 5, 13) with the standard parameterisation's
    constants and the output scale, against the dense eigendecomposition."""
    with jax.enable_x64(True):
        model = make_mlp(4, [24], head=head, n_out=n_out, train_last_layer=train_last_layer, dtype="float64",
                         parameterization=parameterization, output_scale=output_scale)
        params = model.init(jax.random.key(11))
        x = _inputs(1, 4, seed=12)[0].astype(np.float64)
        assert supports_closed_form(model.apply)
        result = hessian_spectral_norm(model.apply, params, x, method="closed_form")
        for c in range(n_out):
            eig = _dense_spectrum(model, params, x, c)
            norm = np.max(np.abs(eig))
            pick = lambda a: float(np.atleast_1d(np.asarray(a))[c])  # noqa: E731
            assert pick(result.norm) == pytest.approx(norm, rel=1e-10)
            assert pick(result.lambda_min) == pytest.approx(eig[0], abs=1e-10 * norm)
            assert pick(result.lambda_max) == pytest.approx(eig[-1], abs=1e-10 * norm)


@pytest.mark.parametrize("head,n_out", [("linear", 1), pytest.param("swish", 1, marks=pytest.mark.slow),
                                        pytest.param("softmax", 3, marks=pytest.mark.slow)])
def test_closed_form_matches_lanczos_on_a_standard_parameterised_net(head, n_out):
    """p = 900 in the standard parameterisation: the closed form against Lanczos (the top of the
    linear head's spectrum is a cluster, +-sigma'(z_i) |x| per neuron, so its Ritz residual stays loose
    while the Ritz value itself has converged)."""
    with jax.enable_x64(True):
        model = make_mlp(8, [100], head=head, n_out=n_out, dtype="float64", parameterization="standard")
        params = model.init(jax.random.key(14))
        x = _inputs(1, 8, seed=15)[0].astype(np.float64)
        closed = hessian_spectral_norm(model.apply, params, x)
        lanczos = hessian_spectral_norm(model.apply, params, x, method="lanczos", steps=160, tol=1e-10)
    lanczos_norm = np.atleast_1d(lanczos.norm)
    assert np.all(np.atleast_1d(lanczos.residual) <= 1e-5 * lanczos_norm)
    np.testing.assert_allclose(np.atleast_1d(closed.norm), lanczos_norm, rtol=1e-10)


@pytest.mark.parametrize("parameterization,head,n_out,widths", [
    ("standard", "swish", 1, [16, 8]),
    *(pytest.param(*case, marks=pytest.mark.slow) for case in [
        ("ntk", "linear", 1, [32]), ("standard", "linear", 1, [32]), ("ntk", "swish", 1, [16, 8]),
        ("ntk", "softmax", 3, [12]), ("standard", "softmax", 3, [12])]),
])
def test_structured_kernel_matches_jacobian(parameterization, head, n_out, widths):
    """The structured factors (s_l = 1/fan_in NTK, 1 standard; G carrying alpha) against per-sample
    Jacobians of the same model, and alpha^2 times the kernel of the unscaled model."""
    kwargs = dict(activation="gelu", head=head, n_out=n_out, parameterization=parameterization)
    scaled, plain = make_mlp(3, widths, output_scale=4.0, **kwargs), make_mlp(3, widths, **kwargs)
    params, X = plain.init(jax.random.key(0)), _inputs(9, 3)
    structured = empirical_ntk(scaled.apply, params, X, method="structured")
    jacobian = empirical_ntk(scaled.apply, params, X, method="jacobian", chunk_size=4)
    unscaled = empirical_ntk(plain.apply, params, X, method="jacobian", chunk_size=4)
    scale = float(jnp.max(jnp.abs(jacobian)))
    assert float(jnp.max(jnp.abs(structured - jacobian))) < 1e-5 * scale
    assert float(jnp.max(jnp.abs(structured - 16.0 * unscaled))) < 1e-5 * scale


@pytest.mark.parametrize("kwargs,fragment", [(dict(parameterization="lecun"), "parameterization"),
                                             (dict(output_scale=0.0), "output_scale"),
                                             (dict(output_scale=float("inf")), "output_scale"),
                                             (dict(output_scale=True), "output_scale")])
def test_bad_parameterization_and_output_scale_are_named(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        make_mlp(3, [4], **kwargs)


def test_lazy_targets_put_the_offset_into_the_residual():
    """alpha f(w) - lazy_targets = alpha (f(w) - f(w_0)) - (y - f(w_0)), at any w."""
    f0, f, y, alpha = np.array([0.3, -0.2]), np.array([0.5, 0.1]), np.array([1.0, 0.4]), 12.0
    np.testing.assert_allclose(alpha * f - lazy_targets(y, alpha * f0, alpha), alpha * (f - f0) - (y - f0))
    assert lazy_targets(y, f0, 1.0) is y


def test_the_scaled_training_problem_does_not_depend_on_alpha_for_a_model_linear_in_w():
    """A linear activation with a frozen readout makes f linear in w, K constant: GD on L(f_alpha)/alpha^2
    with step eta (the step eta / alpha^2 on L) moves the residual by (I - eta K / n)^t at every alpha,
    so the loss curves of alpha = 1 and alpha = 30 coincide with that closed form."""
    with jax.enable_x64(True):
        X = _inputs(6, 4).astype(np.float64)
        y = np.sin(X[:, 0])
        eta, steps, curves = 0.5, 40, {}
        for alpha in (1.0, 30.0):
            model = make_mlp(4, [10], activation="linear", train_last_layer=False, dtype="float64", output_scale=alpha)
            params = model.init(jax.random.key(3))
            targets = lazy_targets(y, model.apply(params, X), alpha)
            result = descend(model.apply, params, X, targets, learning_rate=eta / alpha**2,
                             max_steps=steps, tol=0.0, n_snapshots=2)
            curves[alpha] = result.losses
        plain = make_mlp(4, [10], activation="linear", train_last_layer=False, dtype="float64")
        params = plain.init(jax.random.key(3))
        K = np.asarray(empirical_ntk(plain.apply, params, X))
        r0 = -(y - np.asarray(plain.apply(params, X)))  # f_alpha(w_0) - (y - f(w_0)) = f(w_0) - y
        step = np.eye(6) - eta * K / 6
        expected = [0.5 * np.mean((np.linalg.matrix_power(step, t) @ r0) ** 2) for t in range(steps + 1)]
    np.testing.assert_allclose(curves[1.0], expected, rtol=1e-9)
    np.testing.assert_allclose(curves[30.0], expected, rtol=1e-9)


@pytest.mark.slow
def test_kernel_change_falls_like_one_over_alpha():
    """Lazy training (Chizat et al.): with the alpha^2-divided loss the weights move O(1/alpha), so the
    relative kernel change of a swish-head network falls like 1/alpha at large alpha."""
    X = _inputs(8, 3)
    y = 0.2 * np.sin(2.0 * X[:, 0])
    delta_k = {}
    for alpha in (10.0, 100.0):
        model = make_mlp(3, [32], head="swish", output_scale=alpha, init_scheme="antisymmetric")
        params = model.init(jax.random.key(5))
        targets = lazy_targets(y, model.apply(params, X), alpha)
        result = descend(model.apply, params, X, targets, learning_rate=2.0 / alpha**2,
                         max_steps=300, tol=0.0, n_snapshots=6)
        delta_k[alpha] = result.delta_k_max
    assert delta_k[10.0] / delta_k[100.0] == pytest.approx(10.0, rel=0.15)
