"""The infinite-width neural tangent kernel Theta of the ``mlp`` family (:mod:`ntk_linearity.numerics.models`).

The networks: NTK parameterisation, no biases, every weight N(0, 1), ``z_1 = x W_1 / sqrt(d)``,
``z_{l+1} = sigma(z_l) W_{l+1} / sqrt(m_l)``, readout ``f = sigma(z_L) V / sqrt(m_L)``, output ``alpha f``
(linear head). As every width m_l grows, the tangent kernel at initialisation converges to Theta,
given by the layer recursion with ``(u, v) ~ N(0, [[S^l(x, x), S^l(x, x')], [S^l(x, x'), S^l(x', x')]])``:

    S^1 = x.x' / d,   S^{l+1} = E[sigma(u) sigma(v)],   Sdot^{l+1} = E[sigma'(u) sigma'(v)],
    Theta^1 = S^1,    Theta^{l+1} = S^{l+1} + Theta^l Sdot^{l+1}    (l = 1 .. L, L = depth).

``Theta^{L+1}`` is the kernel of the output f; the term ``S^{L+1}`` of its last step is the readout's,
dropped when the readout is frozen (``train_last_layer=False``). With ``init_scheme="antisymmetric"``
the paired units of the last hidden layer cancel every gradient that flows below it (their input
weights are equal and their readout weights opposite), so only the last hidden layer and the readout
remain: ``Theta = S^{L+1} + S^L Sdot^{L+1}``. The output scale multiplies Theta by alpha^2; C outputs
give ``Theta ⊗ I_C``, rows ``sample * C + output`` as :func:`~ntk_linearity.numerics.kernels.empirical_ntk`.

Expectations: closed forms for ReLU (the arc-cosine kernels of order 1 and 0, Cho & Saul 2009), erf
(Williams 1997) and the identity; two-dimensional Gauss–Hermite quadrature
(:mod:`ntk_linearity.numerics.gauss_hermite`) for the other activations, with the smallest node count
of :data:`QUADRATURE_NODE_COUNTS` whose kernels of a few probe inputs change by less than
:data:`QUADRATURE_TOLERANCE` when the node count doubles. Everything is computed in float64 and
returned as NumPy arrays.
"""

from __future__ import annotations

import math
from functools import lru_cache, partial
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntk_linearity.numerics.compiling import QUICK_COMPILE
from ntk_linearity.numerics.gauss_hermite import Expectations, padded_rule, quadrature_expectations
from ntk_linearity.numerics.models import ACTIVATIONS, INIT_SCHEMES, MLP, positive_int

QUADRATURE_TOLERANCE = 1e-5
"""Self-convergence tolerance of the quadrature. A rule of q nodes per dimension is accepted when, on
the probe inputs (:func:`probe_inputs`), every layer kernel ``S^l`` and ``Sdot^l`` computed with q nodes
differs from the one computed with 2q nodes by less than this fraction of its largest entry; the
2q-node rule is far more accurate, so the difference estimates the q-node error. The candidates are
:data:`QUADRATURE_NODE_COUNTS`, smallest first. 1e-5 is a hundred times below the finite-width
fluctuations Theta is compared with (of order m^(-1/2), 1e-3 at a width of a million); tanh, whose
derivative has double poles at +-i pi/2, needs 48 nodes for it at depth 4 on the sphere of radius
sqrt(d), gelu 24, swish 16, softplus 12."""
QUADRATURE_NODE_COUNTS = (12, 16, 24, 32, 48, 64, 96, 128, 192, 256)  # about a factor sqrt(2) apart
PROBE_ANGLES = 9  # probe inputs per radius: correlations cos(angle difference) covering [-1, 1]
DERIVED_FAMILY = "mlp"


def relu_expectations(s11: jax.Array, s12: jax.Array, s22: jax.Array) -> Expectations:
    """ReLU's arc-cosine kernels: ``E[relu(u) relu(v)] = sqrt(s11 s22) (sin t + (pi - t) cos t) / (2 pi)``
    and ``E[step(u) step(v)] = (pi - t) / (2 pi)``, ``cos t = s12 / sqrt(s11 s22)``."""
    norm = jnp.sqrt(s11 * s22)
    cos = jnp.clip(s12 / jnp.where(norm > 0, norm, 1.0), -1.0, 1.0)
    angle = jnp.arccos(cos)
    sigma = norm * (jnp.sqrt(1.0 - cos * cos) + (jnp.pi - angle) * cos) / (2 * jnp.pi)
    return sigma, (jnp.pi - angle) / (2 * jnp.pi)


def erf_expectations(s11: jax.Array, s12: jax.Array, s22: jax.Array) -> Expectations:
    """erf's arcsin kernel ``(2/pi) arcsin(2 s12 / sqrt((1 + 2 s11)(1 + 2 s22)))`` and, with
    ``erf'(z) = (2/sqrt(pi)) exp(-z^2)``, ``E[erf'(u) erf'(v)] = (4/pi) det(I + 2S)^(-1/2)``."""
    product = (1 + 2 * s11) * (1 + 2 * s22)
    sigma = (2 / jnp.pi) * jnp.arcsin(jnp.clip(2 * s12 / jnp.sqrt(product), -1.0, 1.0))
    return sigma, (4 / jnp.pi) / jnp.sqrt(product - 4 * s12 * s12)


def linear_expectations(s11: jax.Array, s12: jax.Array, s22: jax.Array) -> Expectations:
    """The identity: ``E[u v] = s12`` and ``E[1 * 1] = 1``."""
    return s12, jnp.ones_like(s12)


CLOSED_FORMS: Mapping[str, Callable[..., Expectations]] = {
    "relu": relu_expectations, "erf": erf_expectations, "linear": linear_expectations}


def gaussian_expectations(activation: str, s11, s12, s22, nodes=None) -> Expectations:
    """``E[sigma(u) sigma(v)]`` and ``E[sigma'(u) sigma'(v)]`` for covariance entries (arrays of one
    shape): the closed form when the activation has one and ``nodes`` is None, else the ``nodes x nodes``
    Gauss–Hermite rule (any activation of :data:`~ntk_linearity.numerics.models.ACTIVATIONS`; ``nodes``
    may also be the arrays ``(z, w)`` of a rule)."""
    if nodes is None:
        return CLOSED_FORMS[activation](s11, s12, s22)
    return quadrature_expectations(ACTIVATIONS[activation], s11, s12, s22, nodes)


def _layer_kernels(
    X: jax.Array, activation: str, depth: int, nodes: int | None, pad: bool = False
) -> tuple[jax.Array, jax.Array]:
    """``(S^1 .. S^{L+1})`` (depth + 1, n, n) and ``(Sdot^2 .. Sdot^{L+1})`` (depth, n, n) with the
    ``nodes``-point rule (None: closed form); ``pad``: the rule padded to a power of two, so that the
    node counts tried on the probes by :func:`quadrature_nodes` share few compiled programs."""
    if nodes is None:
        return _layer_kernels_jit(X, None, activation, depth)
    size = 1 << (nodes - 1).bit_length() if pad else nodes
    program = _layer_kernels_quick if pad else _layer_kernels_jit
    return program(X, tuple(jnp.asarray(t) for t in padded_rule(nodes, size)), activation, depth)


def _layer_kernels_traced(X: jax.Array, rule, activation: str, depth: int) -> tuple[jax.Array, jax.Array]:
    """:func:`_layer_kernels` for a rule ``(z, w)`` (or None); each step on the n (n + 1) / 2 pairs of the
    upper triangle, mirrored."""
    n = X.shape[0]
    rows, cols = np.triu_indices(n)

    def symmetric(values: jax.Array) -> jax.Array:
        upper = jnp.zeros((n, n), values.dtype).at[rows, cols].set(values)
        return upper + upper.T - jnp.diag(jnp.diag(upper))

    def layer(S: jax.Array, _) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        diagonal = jnp.diag(S)
        sigma, dot = gaussian_expectations(activation, diagonal[rows], S[rows, cols], diagonal[cols], rule)
        return symmetric(sigma), (symmetric(sigma), symmetric(dot))

    first = X @ X.T / X.shape[1]
    _, (sigmas, dots) = jax.lax.scan(layer, first, None, length=depth)  # the layer traced once
    return jnp.concatenate([first[None], sigmas]), dots


_layer_kernels_jit = jax.jit(_layer_kernels_traced, static_argnames=("activation", "depth"))
# the probes' programs run for milliseconds: compiled without LLVM's optimisation passes (a fraction of
# the compile time), as ntk_linearity.numerics.compiling does for small programs
_layer_kernels_quick = jax.jit(_layer_kernels_traced, static_argnames=("activation", "depth"),
                               compiler_options=QUICK_COMPILE)


class LayerKernels(NamedTuple):
    """The layer kernels of the recursion (module docstring), float64.

    ``sigma``: ``S^1 .. S^{L+1}``, shape (depth + 1, n, n); ``sigma_dot``: ``Sdot^2 .. Sdot^{L+1}``, shape
    (depth, n, n); ``nodes``: Gauss–Hermite nodes per dimension (None: closed form); ``change``: the
    estimated relative error of the chosen rule (:func:`quadrature_nodes`; 0 otherwise)."""

    sigma: np.ndarray
    sigma_dot: np.ndarray
    nodes: int | None
    change: float


def _relative_change(new: tuple[jax.Array, jax.Array], old: tuple[jax.Array, jax.Array]) -> float:
    """Largest ``max |new_l - old_l| / max |new_l|`` over the layers of both kernel stacks."""
    changes = [jnp.max(jnp.abs(a - b), axis=(1, 2)) / jnp.maximum(jnp.max(jnp.abs(a), axis=(1, 2)), 1e-300)
               for a, b in zip(new, old)]
    return float(max(jnp.max(c) for c in changes))


def probe_inputs(largest: float, smallest: float) -> jax.Array:
    """Inputs on which the node count is chosen: in the plane, at the largest and the smallest ``x.x/d``
    of the data, :data:`PROBE_ANGLES` directions each from 0 to pi, so that the probe pairs have the
    extreme variances and every correlation from -1 to 1 at every layer."""
    angles = jnp.linspace(0.0, jnp.pi, PROBE_ANGLES)
    circle = jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=1) * jnp.sqrt(2.0)  # x.x/2 = 1
    return jnp.concatenate([circle * jnp.sqrt(largest), circle * jnp.sqrt(smallest)])


@lru_cache(maxsize=64)
def quadrature_nodes(activation: str, depth: int, largest: float, smallest: float) -> tuple[int, float]:
    """The smallest of :data:`QUADRATURE_NODE_COUNTS` that passes the self-convergence test of
    :data:`QUADRATURE_TOLERANCE` on :func:`probe_inputs` (data whose ``x.x/d`` lie in ``[smallest,
    largest]``), and its estimated relative error; cached, so a run's data chooses once."""
    with jax.enable_x64(True):
        probe = probe_inputs(largest, smallest)
        for nodes in QUADRATURE_NODE_COUNTS:
            change = _relative_change(_layer_kernels(probe, activation, depth, 2 * nodes, pad=True),
                                      _layer_kernels(probe, activation, depth, nodes, pad=True))
            if change < QUADRATURE_TOLERANCE:
                return nodes, change
    raise ValueError(
        f"the Gauss-Hermite quadrature of activation {activation!r} changes the kernel by {change:.1e} "
        f"(tolerance {QUADRATURE_TOLERANCE:g}) at {nodes} nodes: inputs with x.x/d of order one (the "
        f"sphere of radius sqrt(d)) are needed")


def layer_kernels(X, *, activation: str, depth: int, nodes: int | None = None) -> LayerKernels:
    """The recursion's layer kernels on the rows of ``X`` (n, d): closed form for relu, erf and linear,
    Gauss–Hermite quadrature otherwise, with the self-converged node count (:func:`quadrature_nodes`)
    unless ``nodes`` is given (which also forces quadrature on an activation with a closed form)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    positive_int(depth, "depth")
    with jax.enable_x64(True):
        X = jnp.asarray(np.asarray(X, np.float64))
        if X.ndim != 2:
            raise ValueError(f"X must be a matrix (n, d), got shape {X.shape}")
        change = 0.0
        if nodes is None and activation not in CLOSED_FORMS:
            variances = np.asarray(jnp.sum(X * X, axis=1)) / X.shape[1]
            nodes, change = quadrature_nodes(activation, depth, *(float(f"{v:.3g}") for v in
                                                                  (variances.max(), variances.min())))
        sigma, dot = _layer_kernels(X, activation, depth, nodes)
        return LayerKernels(np.asarray(sigma), np.asarray(dot), nodes, change)


def theta_from_layers(kernels: LayerKernels, *, train_last_layer: bool, init_scheme: str) -> np.ndarray:
    """Theta (n, n) of the scalar output f from the layer kernels (module docstring)."""
    if init_scheme not in INIT_SCHEMES:
        raise ValueError(f"init_scheme must be one of {list(INIT_SCHEMES)}, got {init_scheme!r}")
    sigma, dot = kernels.sigma, kernels.sigma_dot
    readout = sigma[-1] if train_last_layer else np.zeros_like(sigma[-1])
    if init_scheme == "antisymmetric":
        return readout + sigma[-2] * dot[-1]
    theta = sigma[0]
    for layer in range(1, len(dot)):
        theta = sigma[layer] + theta * dot[layer - 1]
    return readout + theta * dot[-1]


def infinite_width_ntk(
    X, *, activation: str, depth: int, train_last_layer: bool, init_scheme: str, output_scale: float,
    n_out: int = 1,
) -> np.ndarray:
    """Theta of an ``mlp`` with these settings (NTK parameterisation, linear head) on the rows of ``X``
    (n, d), float64: shape (n, n) for one output, (n C, n C) for ``n_out`` = C with row ``sample * C +
    output`` (``alpha^2 Theta ⊗ I_C``), as :func:`~ntk_linearity.numerics.kernels.empirical_ntk` lays out
    K(w_0). Seven parameters: the model's own settings, by their names."""
    positive_int(n_out, "n_out")
    if isinstance(output_scale, bool) or not (math.isfinite(output_scale) and output_scale > 0):
        raise ValueError(f"output_scale must be a positive finite number, got {output_scale!r}")
    kernels = layer_kernels(X, activation=activation, depth=depth)
    theta = output_scale**2 * theta_from_layers(kernels, train_last_layer=train_last_layer,
                                                init_scheme=init_scheme)
    return theta if n_out == 1 else np.kron(theta, np.eye(n_out))


def not_derived_reason(family: str, settings: Mapping[str, Any]) -> str | None:
    """None when Theta is derived for a network of ``family`` with these model ``settings`` (the keys of
    the family's settings model: ``head``, ``parameterization``, ``bottleneck_width``, ...; absent keys
    take the mlp defaults), else a one-line reason beginning ``"not derived: "``, never a number."""
    if family != DERIVED_FAMILY:
        return f"not derived: family {family!r} (Theta is derived for the mlp family only)"
    if settings.get("parameterization", "ntk") != "ntk":
        return ("not derived: standard parameterisation (its tangent kernel grows with the width: no "
                "finite limit)")
    head = settings.get("head", "linear")
    if head != "linear":
        return (f"not derived: non-linear head {head!r} (the kernel at w_0 depends on the random "
                "output f(w_0) through the head's derivative)")
    if settings.get("bottleneck_width") is not None:
        return "not derived: a bottleneck layer of fixed width (not every width grows)"
    if settings.get("activation") not in ACTIVATIONS:
        return f"not derived: activation {settings.get('activation')!r}"
    return None


def infinite_width_ntk_of(model: MLP, X) -> np.ndarray:
    """Theta of a built :class:`~ntk_linearity.numerics.models.MLP` (its depth, activation, readout,
    initialisation scheme, output scale and outputs) on ``X``, laid out as its empirical kernel; a model
    for which Theta is not derived (:func:`not_derived_reason`) raises ``ValueError`` with the reason."""
    reason = not_derived_reason(DERIVED_FAMILY, {"parameterization": model.parameterization, "head": model.head,
                                                 "activation": model.activation})
    if reason is not None:
        raise ValueError(reason)
    return infinite_width_ntk(X, activation=model.activation, depth=len(model.widths),
                              train_last_layer=model.train_last_layer, init_scheme=model.init_scheme,
                              output_scale=model.output_scale, n_out=model.n_out)


def kernel_deviation(K, theta) -> float:
    """``||K - Theta||_F / ||Theta||_F`` in float64 (K e.g. the empirical K(w_0), same layout as Theta)."""
    K, theta = np.asarray(K, np.float64), np.asarray(theta, np.float64)
    if K.shape != theta.shape:
        raise ValueError(f"K and Theta must have one shape, got {K.shape} and {theta.shape}")
    return float(np.linalg.norm(K - theta) / np.linalg.norm(theta))


def benchmark_case(n_samples: int = 64, input_dim: int = 8, depth: int = 4,
                   activation: str = "tanh") -> Callable[[], np.ndarray]:
    """A call to time: Theta of ``n_samples`` inputs on the sphere of radius sqrt(d) (the project's data)
    at ``depth``, trained readout, i.i.d. initialisation. Call it once first to compile."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_samples, input_dim))
    X *= np.sqrt(input_dim) / np.linalg.norm(X, axis=1, keepdims=True)
    return lambda: infinite_width_ntk(X, activation=activation, depth=depth, train_last_layer=True,
                                      init_scheme="iid", output_scale=1.0)
