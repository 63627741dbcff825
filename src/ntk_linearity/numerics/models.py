"""Fully connected networks in the NTK or the standard parameterisation (paper Eq. 4, 7, 9, 11; Appendix B).

A hidden layer is ``a_l = sigma(z_l)``. In the NTK parameterisation (Eq. 9, the paper's) every weight
is drawn from N(0, 1) and ``z_l = a_{l-1} W_l / sqrt(fan_in)``; in the *standard* one (LeCun
initialisation, Appendix B) every weight is drawn from N(0, 1/fan_in) and ``z_l = a_{l-1} W_l``. With
``W_SP = W_NTK / sqrt(fan_in)`` the two compute the same function, and the same key draws exactly those
weights, so the networks agree at w_0; their gradients, tangent kernels and Hessians differ by the
fan-ins (``d f / d W_SP = sqrt(fan_in) d f / d W_NTK``). The readout ``f = a_L V / sqrt(m_L)`` (NTK; ``a_L V``
standard) is linear (Eq. 7); a non-linear head applies ``phi`` to it, ``f~ = phi(f)`` (Eq. 11). There are no
biases, as in the paper. A bottleneck (Section 4) is simply a narrow entry in ``widths``.

``output_scale`` alpha multiplies the output after the head: the model is ``alpha f`` (Chizat et al.'s
lazy-training scaling, the paper's Appendix A), whose tangent kernel is ``alpha^2 K`` and Hessian
``alpha H``. The offset of ``f_alpha = alpha (f - f(w_0))`` has no derivative, so it is not part of the
model: the training node puts it into the targets (see ``ntk_linearity.numerics.training.lazy_targets``).

Parameters are a flat ``dict`` of arrays, ``{"layer_1": W_1, ..., "layer_L": W_L, "readout": V}``,
with ``W_l`` of shape ``(fan_in, fan_out)``. With ``train_last_layer=False`` the readout is held fixed
(``v`` of Eq. 4): it stays in the dict but ``apply`` stops its gradient, so gradients, kernels and
Hessians only see the hidden weights.
"""

from __future__ import annotations

import functools
import inspect
import math
from dataclasses import dataclass
from functools import partial
from typing import Callable, Mapping

import jax
import jax.numpy as jnp

Params = dict[str, jax.Array]

ACTIVATIONS: Mapping[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "swish": jax.nn.silu,
    "silu": jax.nn.silu,
    "gelu": partial(jax.nn.gelu, approximate=False),
    "softplus": jax.nn.softplus,
    "erf": jax.scipy.special.erf,
    "linear": lambda z: z,
}

HEADS: Mapping[str, Callable[[jax.Array], jax.Array]] = {
    "linear": lambda f: f,
    "swish": jax.nn.silu,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "softmax": partial(jax.nn.softmax, axis=-1),
}

# Heads whose C outputs sum to one for every input: their Jacobian is orthogonal to (1, ..., 1) per
# sample, so the nC x nC tangent kernel has n null directions that the residual p - y never enters
# (targets on the simplex sum to one too).
SIMPLEX_HEADS = frozenset({"softmax"})

READOUT = "readout"
SUPPORTED_DTYPES = ("float32", "float64")
INIT_SCHEMES = ("iid", "antisymmetric")
PARAMETERIZATIONS = ("ntk", "standard")


class _ApplyKey:
    """A model's bound ``apply`` as a cache key that compares and hashes by the model's *value*
    (its settings) and the method: Python compares bound methods by the identity of their instance,
    so two equal models built by two nodes would otherwise never share a cache entry."""

    def __init__(self, apply: Callable) -> None:
        self.apply = apply
        self._id = (apply.__self__, apply.__func__) if inspect.ismethod(apply) else (apply,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ApplyKey) and self._id == other._id

    def __hash__(self) -> int:
        return hash(self._id)


def cache_per_model(maxsize: int) -> Callable:
    """``functools.lru_cache`` for functions whose first argument is a model's ``apply``, keyed by the
    model's settings: every network with the same settings (runs of one architecture with different
    seeds, built anew by each node) shares one entry, so the jitted functions compile once. The
    models are frozen dataclasses, so equal settings give equal outputs for the same parameters."""

    def decorate(fn: Callable) -> Callable:
        @functools.lru_cache(maxsize=maxsize)
        def cached(key: _ApplyKey, *args):
            return fn(key.apply, *args)

        @functools.wraps(fn)
        def wrapper(apply: Callable, *args):
            return cached(_ApplyKey(apply), *args)

        wrapper.cache_info = cached.cache_info
        return wrapper

    return decorate


class Network:
    """What every network of this package shares (:class:`MLP` and the convolutional networks of
    :mod:`ntk_linearity.numerics.conv`): weight arrays ``layer_names`` (input to output, ``readout``
    last) of shapes ``param_shapes``, the readout held fixed unless ``train_last_layer``."""

    layer_names: tuple[str, ...]
    param_shapes: dict[str, tuple[int, ...]]
    train_last_layer: bool

    @property
    def trainable_layers(self) -> tuple[str, ...]:
        names = self.layer_names
        return names if self.train_last_layer else names[:-1]

    @property
    def n_params(self) -> int:
        """Number of trainable parameters p."""
        shapes = self.param_shapes
        return sum(math.prod(shapes[name]) for name in self.trainable_layers)


def layer_name(index: int) -> str:
    """Name of hidden layer ``index`` (1-based, as W^(l) in Eq. 7)."""
    return f"layer_{index}"


@dataclass(frozen=True)
class MLP(Network):
    """A fully connected network ``x -> alpha phi(V sigma(... sigma(W_1 x)))`` in the NTK or the
    standard parameterisation (module docstring)."""

    d_in: int
    widths: tuple[int, ...]
    activation: str
    head: str
    n_out: int
    train_last_layer: bool
    dtype: str
    init_scheme: str
    parameterization: str
    output_scale: float

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Weight matrices from input to output: ``layer_1 .. layer_L, readout``."""
        return tuple(layer_name(i + 1) for i in range(len(self.widths))) + (READOUT,)

    @property
    def fan_ins(self) -> tuple[int, ...]:
        return (self.d_in, *self.widths)

    @property
    def fan_outs(self) -> tuple[int, ...]:
        return (*self.widths, self.n_out)

    @property
    def standard(self) -> bool:
        return self.parameterization == "standard"

    def layer_multiplier(self, fan_in: int, dtype) -> jax.Array:
        """``c_l``: the factor of the weights in ``z_l = c_l a_{l-1} W_l`` (1/sqrt(fan_in) NTK, 1 standard)."""
        return jnp.asarray(1.0 if self.standard else 1.0 / fan_in**0.5, dtype)

    def kernel_scale(self, fan_in: int, dtype) -> jax.Array:
        """``s_l = c_l^2`` of a layer's term ``s_l <g, g'> <a, a'>`` of the tangent kernel (1/fan_in NTK, 1
        standard): ``dz / dW = c_l a``."""
        return jnp.asarray(1.0 if self.standard else 1.0 / fan_in, dtype)

    @property
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: (i, o) for name, i, o in zip(self.layer_names, self.fan_ins, self.fan_outs)}

    @property
    def n_params(self) -> int:
        """Number of trainable parameters p, by arithmetic on the layer sizes (no names, no shapes:
        the memory check sizes networks of any depth in well under a second)."""
        sizes = [fan_in * fan_out for fan_in, fan_out in zip(self.fan_ins, self.fan_outs)]
        return sum(sizes if self.train_last_layer else sizes[:-1])

    def init(self, key: jax.Array) -> Params:
        """Draw every weight from N(0, 1) (Section 3.2, "Initialization and parameterization"), or from
        N(0, 1/fan_in) in the standard parameterisation: the same key gives the NTK weights divided by
        sqrt(fan_in), hence the same function at w_0.

        ``init_scheme="iid"``: all weights independent. ``"antisymmetric"``: the second half of the
        last hidden layer copies the first half and its readout weights are negated, so every weight
        is still N(0, 1) but ``f(w_0; x) = 0`` for every x (the "doubling trick"): GD then starts at the
        same output everywhere, which a non-linear head with a critical point (swish at f = -1.28)
        needs in order to converge from every sample (Theorem 5.1 assumes |phi'| >= rho > 0).
        """
        keys = jax.random.split(key, len(self.layer_names))
        params = {
            name: jax.random.normal(k, (fan_in, fan_out), dtype=self.dtype)
            for name, k, fan_in, fan_out in zip(self.layer_names, keys, self.fan_ins, self.fan_outs)
        }
        if self.standard:
            params = {name: W / jnp.sqrt(jnp.asarray(fan_in, W.dtype))
                      for (name, W), fan_in in zip(params.items(), self.fan_ins)}
        if self.init_scheme == "antisymmetric":
            last, half = layer_name(len(self.widths)), self.widths[-1] // 2
            params[last] = params[last].at[:, half:].set(params[last][:, :half])
            params[READOUT] = params[READOUT].at[half:].set(-params[READOUT][:half])
        return params

    def forward(
        self, params: Params, X: jax.Array, taps: Mapping[str, jax.Array] | None = None
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Outputs ``alpha phi(f)`` of shape ``(n, n_out)`` and the input ``a_{l-1}`` of every layer.

        ``taps`` (optional) are added to the pre-activations ``z_l`` (and to the readout ``f`` before
        the head): differentiating the output with respect to a zero tap gives the back-propagated
        cotangent ``df/dz_l`` used by the structured kernel (:mod:`ntk_linearity.numerics.kernels`).
        """
        taps = taps or {}
        a = X
        layer_inputs: dict[str, jax.Array] = {}
        sigma = ACTIVATIONS[self.activation]
        for name, fan_in in zip(self.layer_names, self.fan_ins):
            W = params[name]
            if name == READOUT and not self.train_last_layer:
                W = jax.lax.stop_gradient(W)
            layer_inputs[name] = a
            z = a @ W if self.standard else a @ W / jnp.sqrt(jnp.asarray(fan_in, a.dtype))
            if name in taps:
                z = z + taps[name]
            a = z if name == READOUT else sigma(z)
        out = HEADS[self.head](a)
        return (out if self.output_scale == 1.0 else self.output_scale * out), layer_inputs

    def apply(self, params: Params, X: jax.Array) -> jax.Array:
        """Model output: shape ``(n,)`` for one output, ``(n, n_out)`` for several."""
        out, _ = self.forward(params, X)
        return out[:, 0] if self.n_out == 1 else out

    def kernel_factors(
        self, params: Params, X: jax.Array
    ) -> list[tuple[jax.Array, jax.Array, jax.Array]]:
        """Per-layer factors ``(G, A, s)`` of the tangent kernel, ``s = 1/fan_in`` (NTK) or 1 (standard).

        For a dense layer ``z = c a W`` the contribution of ``W`` to ``K(x, x')`` is
        ``c^2 <g(x), g(x')> <a(x), a(x')>`` with ``g = df/dz`` (:mod:`ntk_linearity.numerics.kernels`),
        ``c^2 = s`` of :meth:`kernel_scale`. ``G`` has shape ``(n, n_out, fan_out)`` (one cotangent per
        output, including the output scale alpha, so the kernel is alpha^2 times that of ``f``) and ``A``
        shape ``(n, fan_in)``.
        """
        trainable = self.trainable_layers
        X = jnp.asarray(X, jnp.result_type(X, *params.values()))  # float64 params: float64 factors
        taps = {
            name: jnp.zeros((X.shape[0], fan_out), X.dtype)
            for name, fan_out in zip(self.layer_names, self.fan_outs)
            if name in trainable
        }

        def summed_outputs(taps_):
            out, inputs = self.forward(params, X, taps_)
            return out.sum(axis=0), inputs

        cotangents, inputs = jax.jacrev(summed_outputs, has_aux=True)(taps)
        factors = []
        for name, fan_in in zip(self.layer_names, self.fan_ins):
            if name in trainable:
                G = jnp.moveaxis(cotangents[name], 0, 1)  # (n_out, n, m) -> (n, n_out, m)
                factors.append((G, inputs[name], self.kernel_scale(fan_in, X.dtype)))
        return factors



def positive_int(value, what: str) -> int:
    """``value`` if it is a positive integer (not a bool), else a one-line ``ValueError`` naming ``what``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return value


def check_network_arguments(activation: str, head: str, n_out: int, dtype, init_scheme: str) -> str:
    """Check the arguments every network builder shares (:func:`mlp`, and ``cnn``/``resnet`` of
    :mod:`ntk_linearity.numerics.conv`), with one-line errors naming the argument; return the dtype's
    name (``jnp.float32`` -> ``"float32"``)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if head not in HEADS:
        raise ValueError(f"head must be one of {sorted(HEADS)}, got {head!r}")
    positive_int(n_out, "n_out")
    if head == "softmax" and n_out < 2:
        raise ValueError(f"head 'softmax' needs n_out >= 2 classes, got n_out={n_out}")
    try:
        dtype = jnp.dtype(dtype).name
    except TypeError:
        pass
    if dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"dtype must be one of {list(SUPPORTED_DTYPES)}, got {dtype!r}")
    if dtype == "float64" and not jax.config.jax_enable_x64:
        raise ValueError(
            "dtype 'float64' needs 64-bit JAX: call jax.config.update('jax_enable_x64', True) "
            "or run inside `with jax.enable_x64(True):`"
        )
    if init_scheme not in INIT_SCHEMES:
        raise ValueError(f"init_scheme must be one of {list(INIT_SCHEMES)}, got {init_scheme!r}")
    return dtype


MLP_OPTIONS = frozenset({"activation", "head", "train_last_layer", "dtype", "init_scheme", "parameterization",
                         "output_scale"})  # the keyword options of mlp() that a settings model carries


def mlp(
    d_in: int,
    widths,
    *,
    activation: str,
    head: str,
    n_out: int = 1,
    train_last_layer: bool,
    dtype: str,
    init_scheme: str,
    parameterization: str,
    output_scale: float,
) -> MLP:
    """Build an MLP after checking every argument (one-line errors naming it): ``parameterization``
    ``"ntk"`` (the paper's) or ``"standard"``, ``output_scale`` alpha > 0 (the model ``alpha f``).

    Ten parameters: the keyword-only options (:data:`MLP_OPTIONS`) mirror the typed settings of an
    experiment, passed explicitly and never defaulted here."""
    widths = tuple(widths) if not isinstance(widths, int) else (widths,)
    positive_int(d_in, "d_in")
    if not widths:
        raise ValueError("widths must list at least one hidden layer width, got an empty list")
    bad = next((i for i, w in enumerate(widths) if not isinstance(w, int) or isinstance(w, bool) or w < 1), None)
    if bad is not None:  # the message names the entry, formatted once: linear in depth
        positive_int(widths[bad], f"widths[{bad}] (of {len(widths)} widths)")
    dtype = check_network_arguments(activation, head, n_out, dtype, init_scheme)
    if init_scheme == "antisymmetric" and widths[-1] % 2:
        raise ValueError(
            f"init_scheme 'antisymmetric' pairs neurons of the last hidden layer, so its width "
            f"must be even, got {widths[-1]}"
        )
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(f"parameterization must be one of {list(PARAMETERIZATIONS)}, got {parameterization!r}")
    if isinstance(output_scale, bool) or not isinstance(output_scale, (int, float)) or not (
            math.isfinite(output_scale) and output_scale > 0):
        raise ValueError(f"output_scale must be a positive finite number, got {output_scale!r}")
    return MLP(d_in, widths, activation, head, n_out, bool(train_last_layer), dtype, init_scheme,
               parameterization, float(output_scale))
