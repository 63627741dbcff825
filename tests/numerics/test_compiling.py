"""sized_jit: small arguments take the quickly compiled program, large ones the optimised one, and both
compute the same function."""

import jax
import jax.numpy as jnp
import numpy as np

from ntk_linearity.numerics.compiling import SMALL_PROGRAM_ELEMENTS, sized_jit


def _softplus_gram(W, X):
    return jnp.sum(jax.nn.softplus(X @ W) ** 2, axis=1)


def test_the_size_of_the_arguments_picks_the_program_and_both_agree():
    fn = sized_jit(lambda W, X: _softplus_gram(W, X))  # its own compilation cache
    X = jax.random.normal(jax.random.key(0), (4, 8))
    small = jax.random.normal(jax.random.key(1), (8, 16))  # 160 elements in all
    large = jax.random.normal(jax.random.key(2), (8, SMALL_PROGRAM_ELEMENTS // 8 + 1))
    for W in (small, large):
        np.testing.assert_allclose(fn(W, X), jax.jit(lambda W, X: _softplus_gram(W, X))(W, X), rtol=1e-6)
    assert fn.quick._cache_size() == 1 and fn.optimised._cache_size() == 1
    # exactly at the bound is still small
    edge = jnp.ones((8, (SMALL_PROGRAM_ELEMENTS - X.size) // 8))
    fn(edge, X)
    assert fn.quick._cache_size() == 2 and fn.optimised._cache_size() == 1


def test_inside_a_traced_function_it_is_inlined():
    inner = sized_jit(_softplus_gram)
    outer = jax.jit(lambda W, X: inner(W, X).sum())  # compiler options on a nested jit would raise
    W, X = jnp.ones((3, 2)), jnp.ones((5, 3))
    expected = 5 * 2 * np.log1p(np.e**3) ** 2  # every entry of X @ W is 3
    np.testing.assert_allclose(float(outer(W, X)), expected, rtol=1e-6)


def test_static_arguments_and_the_decorator_forms():
    @sized_jit(static_argnums=1)
    def power(x, k):
        return x**k

    assert power(jnp.arange(4.0), 3).tolist() == [0.0, 1.0, 8.0, 27.0]
    assert power.__name__ == "power"


def test_one_shot_compiles_large_arguments_quickly_too():
    from ntk_linearity.numerics.compiling import one_shot  # noqa: PLC0415

    fn = sized_jit(lambda W, X: _softplus_gram(W, X))  # its own compilation cache
    X = jnp.ones((2, 8))
    large = jnp.ones((8, SMALL_PROGRAM_ELEMENTS // 8 + 1))
    with one_shot():
        fn(large, X)
    assert fn.quick._cache_size() == 1 and fn.optimised._cache_size() == 0
    fn(large, X)  # outside the block: by size again
    assert fn.optimised._cache_size() == 1
