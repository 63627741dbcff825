"""The NTK-parameterised MLP (Eq. 4, 7, 9, 11) and its argument checks."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from network_settings import make_mlp


def test_shallow_network_matches_eq4():
    model = make_mlp(3, [10])
    params = model.init(jax.random.key(0))
    X = jax.random.normal(jax.random.key(1), (5, 3))
    expected = jnp.tanh(X @ params["layer_1"] / jnp.sqrt(3.0)) @ params["readout"][:, 0] / jnp.sqrt(10.0)
    np.testing.assert_allclose(model.apply(params, X), expected, rtol=1e-6)


def test_output_shapes_and_heads():
    X = jnp.ones((4, 2))
    softmax = make_mlp(2, [8, 8], head="softmax", n_out=3)
    probs = softmax.apply(softmax.init(jax.random.key(0)), X)
    assert probs.shape == (4, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    swish = make_mlp(2, [8], head="swish")
    linear = make_mlp(2, [8])
    p = linear.init(jax.random.key(0))
    np.testing.assert_allclose(swish.apply(p, X), jax.nn.silu(linear.apply(p, X)), rtol=1e-6)


def test_init_is_standard_normal_and_seeded():
    model = make_mlp(4, [2000])
    p = model.init(jax.random.key(3))
    assert float(jnp.std(p["layer_1"])) == pytest.approx(1.0, abs=0.03)
    np.testing.assert_array_equal(p["layer_1"], model.init(jax.random.key(3))["layer_1"])
    assert model.n_params == 4 * 2000 + 2000
    assert make_mlp(4, [2000], train_last_layer=False).n_params == 4 * 2000


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(d_in=3, widths=[0]), "widths"),
        (dict(d_in=3, widths=[]), "widths"),
        (dict(d_in=0, widths=[4]), "d_in"),
        (dict(d_in=3, widths=[4], activation="sine"), "activation"),
        (dict(d_in=3, widths=[4], head="cosine"), "head"),
        (dict(d_in=3, widths=[4], head="softmax", n_out=1), "softmax"),
        (dict(d_in=3, widths=[4], dtype="float16"), "dtype"),
    ],
)
def test_bad_arguments_are_named(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        make_mlp(**kwargs)


def test_antisymmetric_init_gives_zero_output_and_normal_weights():
    model = make_mlp(4, [64, 200], head="swish", init_scheme="antisymmetric")
    params = model.init(jax.random.key(2))
    X = jax.random.normal(jax.random.key(3), (6, 4))
    np.testing.assert_allclose(model.apply(params, X), jax.nn.silu(0.0), atol=1e-6)
    assert float(jnp.std(params["layer_2"])) == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="even"):
        make_mlp(4, [31], init_scheme="antisymmetric")


def test_equal_models_share_their_compiled_functions():
    """Two nodes build two equal models: Python compares their bound ``apply`` by instance, but the
    caches of jitted functions key them by the model's settings, so a sweep's seeds compile once."""
    from ntk_linearity.numerics import kernels, training  # noqa: PLC0415

    a, b, other = make_mlp(4, [8]), make_mlp(4, [8]), make_mlp(4, [16])
    assert a.apply != b.apply and a == b
    assert kernels._factor_fn(a.apply, "structured") is kernels._factor_fn(b.apply, "structured")
    assert kernels._factor_fn(other.apply, "structured") is not kernels._factor_fn(a.apply, "structured")
    assert training._gd_functions(a.apply, "square", True) is training._gd_functions(b.apply, "square", True)
    plain = lambda p, X: X  # noqa: E731  (not a bound method: keyed by the function itself)
    assert kernels._factor_fn(plain, "jacobian") is kernels._factor_fn(plain, "jacobian")


def test_the_builders_default_no_setting_of_the_typed_settings_models():
    """mlp, cnn and resnet take every option a settings model carries (MLP_OPTIONS, CONV_OPTIONS)
    explicitly: one source for every default, the experiment's YAML."""
    from ntk_linearity import cnn, mlp, resnet  # noqa: PLC0415
    from ntk_linearity.numerics.conv import CONV_OPTIONS  # noqa: PLC0415
    from ntk_linearity.numerics.models import MLP_OPTIONS  # noqa: PLC0415

    for build, options in ((mlp, MLP_OPTIONS), (cnn, CONV_OPTIONS), (resnet, CONV_OPTIONS)):
        parameters = inspect.signature(build).parameters
        assert all(parameters[name].default is inspect.Parameter.empty for name in options), build.__name__
        assert all(parameters[name].kind is inspect.Parameter.KEYWORD_ONLY for name in options), build.__name__
