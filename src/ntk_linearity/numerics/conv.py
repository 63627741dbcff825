"""NTK-parameterised convolutional networks (beyond the paper: Section 4's bottleneck argument applied
to channels); the ResNet built on them is in :mod:`ntk_linearity.numerics.resnet`.

Every weight is drawn from N(0, 1) and every pre-activation is divided by the square root of its
fan-in, as for :mod:`ntk_linearity.numerics.models` (paper Eq. 9). A convolution with a ``k x k``
window is

    z[n, p, c] = (k^2 C_in)^(-1/2) sum_{delta, c'} W[delta, c', c] a[n, p + delta, c'],

with ``W`` of shape ``(k, k, C_in, C_out)`` (HWIO), SAME padding, stride 1 (stride 2 where a ResNet
stage downsamples) and no biases. After the last feature map a pooling (``"global_average"``: the mean
over positions; ``"flatten"``: all positions and channels) feeds a dense readout
``f = pooled V / sqrt(fan_in)`` with the same heads as :func:`ntk_linearity.numerics.models.mlp`
(Eq. 7, 11). A channel bottleneck is a narrow entry in ``channels``.

Inputs are images ``X`` of shape ``(n, H, W, C)``; flattened images ``(n, H*W*C)`` are accepted too and
reshaped to ``input_shape`` (so functions written for vector inputs, e.g.
:func:`ntk_linearity.numerics.hessian.hessian_spectral_norm` with ``x`` of shape ``(d,)``, work
unchanged).

Parameters are a flat ``dict`` of arrays named in forward order (``conv_1 .. conv_L, readout`` for
:func:`cnn`; ``stage1_in, stage1_block1_conv1, ...`` for :func:`~ntk_linearity.numerics.resnet.resnet`).
``train_last_layer=False`` holds the readout fixed, as in :class:`~ntk_linearity.numerics.models.MLP`.

``kernel_factors`` returns, per trainable layer, the factors of the tangent kernel used by
:func:`ntk_linearity.numerics.kernels.empirical_ntk` (``method="structured"``): for a convolution
``A`` = input patches ``(n, S, k^2 C_in)`` (:func:`image_patches`, S output positions)
and ``G = df/dz`` ``(n, n_out, S, C_out)`` from one reverse pass with respect to a zero perturbation
added to every pre-activation (so gradients through residual skips are included), and

    K_l(x_i, x_j) = (k^2 C_in)^-1 sum_{p, q} <A_i[p], A_j[q]> <G_i[p], G_j[q]>;

for the readout, ``A`` = pooled features ``(n, fan_in)`` and ``G = df/df_lin`` ``(n, n_out, n_out)``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Mapping

import jax
import jax.numpy as jnp
from jax import lax

from ntk_linearity.numerics.models import (
    ACTIVATIONS,
    HEADS,
    READOUT,
    Network,
    Params,
    check_network_arguments,
    positive_int,
)

POOLINGS = ("global_average", "flatten")
CONV_OPTIONS = frozenset({"kernel_size", "activation", "head", "pooling", "train_last_layer", "dtype",
                          "init_scheme"})  # the keyword options of cnn() and resnet() a settings model carries


@dataclass(frozen=True)
class ConvLayer:
    """One convolution: its parameter name, channels in/out and stride."""

    name: str
    c_in: int
    c_out: int
    stride: int = 1


def _downsampled(size: int, stride: int) -> int:
    return -(-size // stride)  # SAME padding: ceil(size / stride)


def image_patches(a: jax.Array, kernel_size: int, stride: int = 1) -> jax.Array:
    """The ``k x k`` input patch of every output position of a SAME-padded convolution (im2col):
    shape ``(n, H_out, W_out, k*k*C)``, ordered ``(dy, dx, c)`` like the HWIO weights.

    Built from ``k^2`` strided slices of the padded input: pure data movement, unlike
    ``lax.conv_general_dilated_patches``, which multiplies by a ``(k^2 C) x (k^2 C)`` identity filter
    (``n S (k^2 C)^2`` flops: more than the kernel itself at large C).
    """
    n, height, width, _ = a.shape
    pads = []
    for size in (height, width):
        out = _downsampled(size, stride)
        total = max((out - 1) * stride + kernel_size - size, 0)
        pads.append((total // 2, total - total // 2, out))
    (top, bottom, h_out), (left, right, w_out) = pads
    padded = jnp.pad(a, ((0, 0), (top, bottom), (left, right), (0, 0)))
    slices = [
        padded[:, dy : dy + (h_out - 1) * stride + 1 : stride, dx : dx + (w_out - 1) * stride + 1 : stride]
        for dy in range(kernel_size)
        for dx in range(kernel_size)
    ]
    return jnp.stack(slices, axis=3).reshape(n, h_out, w_out, -1)


@dataclass(frozen=True)
class ConvNet(Network):
    """Shared machinery of :class:`CNN` and :class:`~ntk_linearity.numerics.resnet.ResNet`
    (subclasses define ``conv_layers`` and ``_features``)."""

    input_shape: tuple[int, int, int]
    channels: tuple[int, ...]
    kernel_size: int
    activation: str
    head: str
    n_out: int
    pooling: str
    train_last_layer: bool
    dtype: str
    init_scheme: str

    # ---- structure ---------------------------------------------------------------------------

    @property
    def conv_layers(self) -> tuple[ConvLayer, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def output_spatial_shape(self) -> tuple[int, int]:
        """Height and width of the last feature map."""
        h, w = self.input_shape[:2]
        for layer in self.conv_layers:
            h, w = _downsampled(h, layer.stride), _downsampled(w, layer.stride)
        return h, w

    @property
    def readout_fan_in(self) -> int:
        c = self.conv_layers[-1].c_out
        if self.pooling == "global_average":
            return c
        h, w = self.output_spatial_shape
        return h * w * c

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Weight arrays from input to output: the convolutions, then ``readout``."""
        return tuple(layer.name for layer in self.conv_layers) + (READOUT,)

    @property
    def fan_ins(self) -> tuple[int, ...]:
        k2 = self.kernel_size**2
        return tuple(k2 * layer.c_in for layer in self.conv_layers) + (self.readout_fan_in,)

    @property
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        k = self.kernel_size
        shapes = {layer.name: (k, k, layer.c_in, layer.c_out) for layer in self.conv_layers}
        shapes[READOUT] = (self.readout_fan_in, self.n_out)
        return shapes

    # ---- initialisation ----------------------------------------------------------------------

    def _duplicated_layers(self) -> tuple[str, ...]:
        """Convolutions whose output-channel halves are made equal by the antisymmetric init."""
        return (self.conv_layers[-1].name,)

    def init(self, key: jax.Array) -> Params:
        """Draw every weight from N(0, 1) (NTK parameterisation, paper Eq. 9).

        ``init_scheme="antisymmetric"``: the layers that write the last feature map copy the first
        half of their output channels into the second half, so the two halves of the last feature
        map are equal, and the readout weights of the second half are the negated first half. Every
        weight is still N(0, 1) but ``f(w_0; x) = 0`` for every x (the doubling trick of
        :meth:`ntk_linearity.numerics.models.MLP.init`).
        """
        shapes = self.param_shapes
        keys = jax.random.split(key, len(shapes))
        # Drawn flat and reshaped: the same numbers as drawing each shape (JAX's default, partitionable
        # threefry, numbers the entries in row-major order), and XLA:CPU compiles a 1-d draw several
        # times faster than a 4-d one.
        params = {
            name: jax.random.normal(k, (math.prod(shape),), dtype=self.dtype).reshape(shape)
            for (name, shape), k in zip(shapes.items(), keys)
        }
        if self.init_scheme == "antisymmetric":
            half = self.conv_layers[-1].c_out // 2
            for name in self._duplicated_layers():
                W = params[name]
                params[name] = W.at[..., half:].set(W[..., :half])
            h, w = self.output_spatial_shape
            positions = 1 if self.pooling == "global_average" else h * w
            V = params[READOUT].reshape(positions, 2 * half, self.n_out)
            params[READOUT] = V.at[:, half:].set(-V[:, :half]).reshape(shapes[READOUT])
        return params

    # ---- forward -----------------------------------------------------------------------------

    def _as_images(self, X: jax.Array) -> jax.Array:
        X = jnp.asarray(X)
        if X.ndim == 2:
            return X.reshape(X.shape[0], *self.input_shape)
        if X.shape[1:] != tuple(self.input_shape):
            raise ValueError(
                f"inputs must have shape (n, {', '.join(map(str, self.input_shape))}) or "
                f"(n, {math.prod(self.input_shape)}), got {X.shape}"
            )
        return X

    def _conv(
        self,
        params: Params,
        layer: ConvLayer,
        a: jax.Array,
        taps: Mapping[str, jax.Array],
        layer_inputs: dict[str, jax.Array],
    ) -> jax.Array:
        """Pre-activation ``z = conv(a, W) / sqrt(k^2 C_in)`` (plus the tap, if any).

        The convolution is the matrix product of the input patches (:func:`image_patches`) with the
        weights reshaped to ``(k^2 C_in, C_out)``: the same flops as ``lax.conv_general_dilated``, and
        on XLA:CPU about 20x faster inside the ``while_loop`` of gradient descent, where the native
        convolution falls back to a slow kernel (it is as fast outside loops)."""
        layer_inputs[layer.name] = a
        fan_in = self.kernel_size**2 * layer.c_in
        W = params[layer.name].reshape(fan_in, layer.c_out)
        z = image_patches(a, self.kernel_size, layer.stride) @ W / jnp.sqrt(jnp.asarray(fan_in, a.dtype))
        if layer.name in taps:
            z = z + taps[layer.name]
        return z

    def _features(self, params, a, taps, layer_inputs) -> jax.Array:  # pragma: no cover
        raise NotImplementedError

    def forward(
        self, params: Params, X: jax.Array, taps: Mapping[str, jax.Array] | None = None
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Outputs of shape ``(n, n_out)`` and the input of every layer (feature maps for the
        convolutions, pooled features for the readout).

        ``taps`` (optional) are added to the pre-activations (and to the readout output before the
        head); differentiating with respect to zero taps gives ``df/dz`` for the structured kernel.
        """
        taps = taps or {}
        layer_inputs: dict[str, jax.Array] = {}
        features = self._features(params, self._as_images(X), taps, layer_inputs)
        if self.pooling == "global_average":
            pooled = jnp.mean(features, axis=(1, 2))
        else:
            pooled = features.reshape(features.shape[0], -1)
        V = params[READOUT]
        if not self.train_last_layer:
            V = lax.stop_gradient(V)
        layer_inputs[READOUT] = pooled
        f = pooled @ V / jnp.sqrt(jnp.asarray(self.readout_fan_in, pooled.dtype))
        if READOUT in taps:
            f = f + taps[READOUT]
        return HEADS[self.head](f), layer_inputs

    def apply(self, params: Params, X: jax.Array) -> jax.Array:
        """Model output: shape ``(n,)`` for one output, ``(n, n_out)`` for several."""
        out, _ = self.forward(params, X)
        return out[:, 0] if self.n_out == 1 else out

    # ---- tangent-kernel factors --------------------------------------------------------------

    def _tap_shapes(self, n: int) -> dict[str, tuple[int, ...]]:
        h, w = self.input_shape[:2]
        shapes = {}
        for layer in self.conv_layers:
            h, w = _downsampled(h, layer.stride), _downsampled(w, layer.stride)
            shapes[layer.name] = (n, h, w, layer.c_out)
        shapes[READOUT] = (n, self.n_out)
        return shapes

    def kernel_factors(
        self, params: Params, X: jax.Array
    ) -> list[tuple[jax.Array, jax.Array, jax.Array]]:
        """Per-layer factors ``(G, A, 1/fan_in)`` of the tangent kernel (module docstring).

        Convolutions: ``G`` ``(n, n_out, S, C_out)`` and ``A`` = patches ``(n, S, k^2 C_in)``
        (a *spatial* factor, ``A.ndim == 3``); readout: ``G`` ``(n, n_out, n_out)``, ``A`` ``(n, fan_in)``
        (a dense factor, as for ``mlp``).
        """
        X = self._as_images(X)
        X = jnp.asarray(X, jnp.result_type(X, *params.values()))  # float64 params: float64 factors
        trainable = self.trainable_layers
        taps = {
            name: jnp.zeros(shape, X.dtype)
            for name, shape in self._tap_shapes(X.shape[0]).items()
            if name in trainable
        }

        def summed_outputs(taps_):
            out, inputs = self.forward(params, X, taps_)
            return out.sum(axis=0), inputs

        cotangents, inputs = jax.jacrev(summed_outputs, has_aux=True)(taps)
        k = self.kernel_size
        factors = []
        for layer in self.conv_layers:
            if layer.name not in trainable:
                continue
            G = jnp.moveaxis(cotangents[layer.name], 0, 1)  # (n_out, n, h, w, c) -> (n, n_out, ...)
            n, _, h, w, c = G.shape
            patches = image_patches(inputs[layer.name], k, layer.stride)
            A = patches.reshape(n, h * w, -1)
            factors.append(
                (G.reshape(n, self.n_out, h * w, c), A, jnp.asarray(1.0 / (k * k * layer.c_in), X.dtype))
            )
        if READOUT in trainable:
            G = jnp.moveaxis(cotangents[READOUT], 0, 1)
            factors.append((G, inputs[READOUT], jnp.asarray(1.0 / self.readout_fan_in, X.dtype)))
        return factors


@dataclass(frozen=True)
class CNN(ConvNet):
    """``x -> phi(V pool(sigma(conv_L(... sigma(conv_1(x))))))`` in NTK parameterisation."""

    @property
    def conv_layers(self) -> tuple[ConvLayer, ...]:
        c_ins = (self.input_shape[2], *self.channels[:-1])
        return tuple(
            ConvLayer(f"conv_{i + 1}", c_in, c_out) for i, (c_in, c_out) in enumerate(zip(c_ins, self.channels))
        )

    def _features(self, params, a, taps, layer_inputs):
        sigma = ACTIVATIONS[self.activation]
        for layer in self.conv_layers:
            a = sigma(self._conv(params, layer, a, taps, layer_inputs))
        return a


def validated(model: ConvNet) -> ConvNet:
    """``model`` after checking the arguments :func:`cnn` and
    :func:`~ntk_linearity.numerics.resnet.resnet` share (one-line errors naming them; those shared with
    :func:`~ntk_linearity.numerics.models.mlp` by :func:`~ntk_linearity.numerics.models.check_network_arguments`),
    with tuples for the shapes, the dtype's name (``jnp.float32`` -> ``"float32"``) and a bool
    ``train_last_layer``."""
    input_shape, channels = model.input_shape, model.channels
    if isinstance(input_shape, int) or len(tuple(input_shape)) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    input_shape = tuple(input_shape)
    for v in input_shape:
        positive_int(v, f"input_shape entries ({list(input_shape)})")
    channels = (channels,) if isinstance(channels, int) else tuple(channels)
    if not channels:
        raise ValueError("channels must list at least one width, got an empty list")
    for c in channels:
        positive_int(c, f"channels entries ({list(channels)})")
    positive_int(model.kernel_size, "kernel_size")
    if model.kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd (SAME padding centred on each pixel), got {model.kernel_size}")
    if model.pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {list(POOLINGS)}, got {model.pooling!r}")
    dtype = check_network_arguments(model.activation, model.head, model.n_out, model.dtype, model.init_scheme)
    if model.init_scheme == "antisymmetric" and channels[-1] % 2:
        raise ValueError(
            f"init_scheme 'antisymmetric' pairs the channels of the last feature map, so the last "
            f"entry of channels must be even, got {channels[-1]}"
        )
    return dataclasses.replace(model, input_shape=input_shape, channels=channels, dtype=dtype,
                               train_last_layer=bool(model.train_last_layer))


def cnn(
    input_shape,
    channels,
    *,
    kernel_size: int,
    activation: str,
    head: str,
    n_out: int = 1,
    pooling: str,
    train_last_layer: bool,
    dtype: str,
    init_scheme: str,
) -> CNN:
    """Build an NTK-parameterised CNN: one ``k x k`` convolution (stride 1, SAME) + ``activation`` per
    entry of ``channels``, then ``pooling`` and a dense readout with ``head`` (see module docstring).

    Ten parameters: the keyword-only options (:data:`CONV_OPTIONS`) mirror the typed settings of an
    experiment, passed explicitly and never defaulted here."""
    return validated(CNN(input_shape, channels, kernel_size, activation, head, n_out, pooling, train_last_layer,
                         dtype, init_scheme))
