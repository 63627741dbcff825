"""The programs the benchmark cases time: each ``*_program`` builds its inputs, runs once (so that
tracing and compilation stay out of the timings) and returns a thunk that runs it again and waits
for the result. JAX is imported here, never when the case list is built."""

from __future__ import annotations

from typing import Callable

# The settings of every benchmarked network (the builders default none of them)
NETWORK = dict(head="linear", train_last_layer=True, dtype="float32", init_scheme="iid")
MLP_SETTINGS = NETWORK | dict(parameterization="ntk", output_scale=1.0)
CONV_SETTINGS = NETWORK | dict(activation="tanh", kernel_size=3, pooling="global_average")
IMAGE_TARGETS = dict(amplitude=0.25, frequency=1.0, n_classes=2, temperature=1.0, smoothness=2.0)


def _ready(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` run once (compiled), as a thunk that blocks until its result is ready."""
    import jax

    def thunk():
        return jax.block_until_ready(fn())

    thunk()
    return thunk


def sphere_inputs(n: int, d: int, seed: int = 0):
    """n points on the unit sphere of R^d, float32."""
    import jax
    import jax.numpy as jnp

    X = jax.random.normal(jax.random.key(seed), (n, d), jnp.float32)
    return X / jnp.linalg.norm(X, axis=1, keepdims=True)


def network(arch: tuple, head: str = "linear"):
    """The model of an architecture tuple: ``("mlp", d, widths, activation)``, ``("cnn", image_shape,
    channels)`` or ``("resnet", image_shape, channels, blocks)``."""
    from ntk_linearity import numerics

    if arch[0] == "mlp":
        _, d, widths, activation = arch
        return numerics.mlp(d, widths, activation=activation, **(MLP_SETTINGS | dict(head=head)))
    if arch[0] == "cnn":
        return numerics.cnn(arch[1], arch[2], **CONV_SETTINGS)
    return numerics.resnet(arch[1], arch[2], arch[3], **CONV_SETTINGS)


def inputs(arch: tuple, n: int):
    """n inputs for the architecture: points of the unit sphere, or smooth images."""
    from ntk_linearity.numerics import synthetic_images

    if arch[0] == "mlp":
        return sphere_inputs(n, arch[1])
    return synthetic_images(0, n, *arch[1], **IMAGE_TARGETS)["X"]


def kernel_program(arch: tuple, n: int, method: str) -> Callable[[], object]:
    """``empirical_ntk`` of the network on n inputs with ``method`` ("structured" or "jacobian")."""
    import jax

    from ntk_linearity.numerics import empirical_ntk

    model = network(arch)
    params, X = model.init(jax.random.key(0)), inputs(arch, n)
    return _ready(lambda: empirical_ntk(model.apply, params, X, method=method))


def snapshot_program(arch: tuple, n: int) -> Callable[[], object]:
    """One kernel snapshot of a run: ``K(w_t) - K(w_0)`` from the factors at ``w_0`` computed once
    (``kernel_reference(...).difference``, as the training loop records it), w_t a small move of w_0."""
    import jax

    from ntk_linearity.numerics import kernel_reference

    model = network(arch)
    params0, X = model.init(jax.random.key(0)), inputs(arch, n)
    moved = jax.tree.map(lambda w, v: w + 1e-2 * v, params0, model.init(jax.random.key(1)))
    difference = kernel_reference(model.apply, params0, X, method="structured").difference
    return _ready(lambda: difference(moved))


def hessian_program(arch: tuple, method: str, tol: float | None = None) -> Callable[[], object]:
    """``hessian_spectral_norm`` at one input with ``method``; ``tol`` None: the library's default."""
    import jax

    from ntk_linearity.numerics import hessian_spectral_norm

    model = network(arch)
    params, x = model.init(jax.random.key(0)), sphere_inputs(1, arch[1])[0]
    options = {} if tol is None else {"tol": tol}
    return _ready(lambda: hessian_spectral_norm(model.apply, params, x, method=method, **options).norm)


def ball_program(arch: tuple, probes: int, grid_points: int, rtol: float) -> Callable[[], object]:
    """One direction of the ball of Proposition 2.2 on a sigmoid head: the closed-form ``||H_x||``
    (bisection to ``rtol``) of every probe at every point of a segment grid."""
    import jax
    import jax.numpy as jnp

    from ntk_linearity.numerics import closed_form_hessian_norms, unit_directions
    from ntk_linearity.numerics.ball import segment_hessian_norms

    model = network(arch, head="sigmoid")
    params0, X = model.init(jax.random.key(0)), sphere_inputs(probes, arch[1])
    step = unit_directions(jax.random.key(1), params0, 1)[0]
    norms = closed_form_hessian_norms(model.apply, rtol)
    grid = jnp.linspace(0.0, 1.0, grid_points)
    return _ready(lambda: segment_hessian_norms(norms, params0, step, X, grid))


def gd_step_program(arch: tuple, n: int, learning_rate: float = 0.5) -> Callable[[], object]:
    """One full-batch gradient-descent step ``w <- w - eta grad L(w)`` on the square loss (the step of
    the training loop, jitted alone, parameters donated so that they are updated in place)."""
    import jax

    from ntk_linearity.numerics.training import square_loss

    model = network(arch)
    X = inputs(arch, n)
    y = jax.random.normal(jax.random.key(2), (n,))
    grad = jax.grad(lambda p: square_loss(model.apply(p, X), y))

    def step(params):
        return jax.tree.map(lambda w, g: w - learning_rate * g, params, grad(params))

    donating = jax.jit(step, donate_argnums=0)
    state = {"params": model.init(jax.random.key(0))}

    def one_step():
        state["params"] = donating(state["params"])
        return state["params"]

    return _ready(one_step)


def training_program(key: str, linearise: bool = True) -> Callable[[], object]:
    """A run's training as conf/base does it, named by ``key`` = ``<head>:<d>x<m>x<n>x<C>x<steps>``:
    ``steps`` full-batch gradient-descent steps (no stopping tolerance) of the one-hidden-layer tanh network
    of width m with ``head`` and C outputs on n inputs of the unit sphere of R^d, at eta lambda_0 = 1
    (:func:`~ntk_linearity.numerics.training.kernel_top_eigenvalue`), with 24 log-spaced kernel snapshots;
    with or without the two measures of :mod:`~ntk_linearity.numerics.linearisation`
    (``track_linearisation``)."""
    import jax

    from ntk_linearity import numerics
    from ntk_linearity.numerics.training import (
        GradientDescentSettings,
        gradient_descent,
        kernel_top_eigenvalue,
        snapshot_schedule,
    )

    head, _, sizes = key.partition(":")
    d, m, n, n_out, steps = (int(v) for v in sizes.split("x"))
    model = numerics.mlp(d, (m,), activation="tanh", n_out=n_out, **(MLP_SETTINGS | dict(head=head)))
    params, X = model.init(jax.random.key(0)), sphere_inputs(n, d)
    y = jax.nn.one_hot(jax.random.randint(jax.random.key(2), (n,), 0, n_out), n_out) if n_out > 1 else (
        jax.random.normal(jax.random.key(2), (n,)))
    settings = GradientDescentSettings(
        learning_rate=1.0 / kernel_top_eigenvalue(model.apply, params, X), max_steps=steps, tol=0.0,
        loss="square", snapshot_steps=tuple(snapshot_schedule(steps, 24)), divergence_factor=1e3,
        progress_every=None, track_linearisation=linearise)
    descend = gradient_descent(settings)
    return _ready(lambda: descend(model.apply, params, X, y).losses)


def infinite_width_program(n: int, depth: int) -> Callable[[], object]:
    """The infinite-width NTK Theta of n inputs at ``depth`` (``infinite_width.benchmark_case``: tanh,
    Gauss-Hermite quadrature, float64)."""
    from ntk_linearity.numerics.infinite_width import benchmark_case

    thunk = benchmark_case(n_samples=n, depth=depth)
    thunk()
    return thunk
