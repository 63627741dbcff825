"""NTK-parameterised convolutional networks and ResNets (beyond the paper: Section 4's bottleneck
argument applied to channels).

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
:func:`cnn`; ``stage1_in, stage1_block1_conv1, ...`` for :func:`resnet`). ``train_last_layer=False``
holds the readout fixed, as in :class:`~ntk_linearity.numerics.models.MLP`.

``kernel_factors`` returns, per trainable layer, the factors of the tangent kernel used by
:func:`ntk_linearity.numerics.kernels.empirical_ntk` (``method="structured"``): for a convolution
``A`` = input patches ``(n, S, k^2 C_in)`` (:func:`image_patches`, S output positions)
and ``G = df/dz`` ``(n, n_out, S, C_out)`` from one reverse pass with respect to a zero perturbation
added to every pre-activation (so gradients through residual skips are included), and

    K_l(x_i, x_j) = (k^2 C_in)^-1 sum_{p, q} <A_i[p], A_j[q]> <G_i[p], G_j[q]>;

for the readout, ``A`` = pooled features ``(n, fan_in)`` and ``G = df/df_lin`` ``(n, n_out, n_out)``.
"""

from __future__ import annotations

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
    Params,
    check_network_arguments,
    positive_int,
)

POOLINGS = ("global_average", "flatten")


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
class _ConvNet:
    """Shared machinery of :class:`CNN` and :class:`ResNet` (subclasses define ``conv_layers`` and
    ``_features``)."""

    input_shape: tuple[int, int, int]
    channels: tuple[int, ...]
    kernel_size: int = 3
    activation: str = "tanh"
    head: str = "linear"
    n_out: int = 1
    pooling: str = "global_average"
    train_last_layer: bool = True
    dtype: str = "float32"
    init_scheme: str = "iid"

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

    @property
    def trainable_layers(self) -> tuple[str, ...]:
        names = self.layer_names
        return names if self.train_last_layer else names[:-1]

    @property
    def n_params(self) -> int:
        """Number of trainable parameters p."""
        shapes = self.param_shapes
        return sum(math.prod(shapes[name]) for name in self.trainable_layers)

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
class CNN(_ConvNet):
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


@dataclass(frozen=True)
class ResNet(_ConvNet):
    """A residual network in NTK parameterisation.

    Stage ``s`` (width ``channels[s]``) starts with an entry convolution ``stage{s}_in`` followed by
    ``sigma`` (stride 1 from the input for stage 1, stride 2 for later stages: they halve the
    resolution) and then ``blocks[s]`` residual blocks

        a <- (a + conv2(sigma(conv1(a)))) / sqrt(2),

    (``stage{s}_block{b}_conv1``, ``..._conv2``, both ``C_s -> C_s``, stride 1). The ``1/sqrt(2)``
    keeps the scale of the residual stream O(1) in depth, exactly as the ``1/sqrt(fan_in)`` of each
    convolution does in width: each summand has O(1) entries and the two are uncorrelated at
    initialisation, so the sum's second moment is the mean of theirs. The last residual stream is
    pooled directly (no final activation). ``antisymmetric`` init duplicates the output-channel halves
    of the last stage's entry convolution and of every ``conv2`` in that stage, so the last stream
    has equal halves.
    """

    blocks: tuple[int, ...] = (1,)

    @property
    def conv_layers(self) -> tuple[ConvLayer, ...]:
        layers = []
        c_prev = self.input_shape[2]
        for s, (c, b) in enumerate(zip(self.channels, self.blocks), start=1):
            layers.append(ConvLayer(f"stage{s}_in", c_prev, c, 1 if s == 1 else 2))
            for j in range(1, b + 1):
                layers.append(ConvLayer(f"stage{s}_block{j}_conv1", c, c))
                layers.append(ConvLayer(f"stage{s}_block{j}_conv2", c, c))
            c_prev = c
        return tuple(layers)

    def _duplicated_layers(self) -> tuple[str, ...]:
        s = len(self.channels)
        return (f"stage{s}_in",) + tuple(
            f"stage{s}_block{j}_conv2" for j in range(1, self.blocks[-1] + 1)
        )

    def _features(self, params, a, taps, layer_inputs):
        sigma = ACTIVATIONS[self.activation]
        layers = iter(self.conv_layers)
        for b in self.blocks:
            a = sigma(self._conv(params, next(layers), a, taps, layer_inputs))
            for _ in range(b):
                h = sigma(self._conv(params, next(layers), a, taps, layer_inputs))
                r = self._conv(params, next(layers), h, taps, layer_inputs)
                a = (a + r) / jnp.sqrt(jnp.asarray(2.0, a.dtype))
        return a


def _check_common(input_shape, channels, kernel_size, activation, head, n_out, pooling, dtype, init_scheme):
    """Validate the arguments of :func:`cnn` and :func:`resnet` (one-line errors); those shared with
    :func:`~ntk_linearity.numerics.models.mlp` by :func:`~ntk_linearity.numerics.models.check_network_arguments`."""
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
    positive_int(kernel_size, "kernel_size")
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd (SAME padding centred on each pixel), got {kernel_size}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {list(POOLINGS)}, got {pooling!r}")
    dtype = check_network_arguments(activation, head, n_out, dtype, init_scheme)
    if init_scheme == "antisymmetric" and channels[-1] % 2:
        raise ValueError(
            f"init_scheme 'antisymmetric' pairs the channels of the last feature map, so the last "
            f"entry of channels must be even, got {channels[-1]}"
        )
    return input_shape, channels, dtype


def cnn(
    input_shape,
    channels,
    kernel_size: int = 3,
    activation: str = "tanh",
    head: str = "linear",
    n_out: int = 1,
    pooling: str = "global_average",
    train_last_layer: bool = True,
    dtype: str = "float32",
    init_scheme: str = "iid",
) -> CNN:
    """Build an NTK-parameterised CNN: one ``k x k`` convolution (stride 1, SAME) + ``activation`` per
    entry of ``channels``, then ``pooling`` and a dense readout with ``head`` (see module docstring)."""
    input_shape, channels, dtype = _check_common(
        input_shape, channels, kernel_size, activation, head, n_out, pooling, dtype, init_scheme
    )
    return CNN(
        input_shape, channels, kernel_size, activation, head, n_out, pooling,
        bool(train_last_layer), dtype, init_scheme,
    )


def resnet(
    input_shape,
    channels,
    blocks=1,
    kernel_size: int = 3,
    activation: str = "tanh",
    head: str = "linear",
    n_out: int = 1,
    pooling: str = "global_average",
    train_last_layer: bool = True,
    dtype: str = "float32",
    init_scheme: str = "iid",
) -> ResNet:
    """Build an NTK-parameterised ResNet with one stage per entry of ``channels`` and ``blocks``
    residual blocks per stage (an int applies to every stage); see :class:`ResNet`."""
    input_shape, channels, dtype = _check_common(
        input_shape, channels, kernel_size, activation, head, n_out, pooling, dtype, init_scheme
    )
    blocks = (blocks,) * len(channels) if isinstance(blocks, int) and not isinstance(blocks, bool) else tuple(blocks)
    if len(blocks) != len(channels):
        raise ValueError(f"blocks must be an int or one entry per stage ({len(channels)}), got {list(blocks)}")
    for b in blocks:
        if not isinstance(b, int) or isinstance(b, bool) or b < 0:
            raise ValueError(f"blocks entries must be non-negative integers, got {b!r} in {list(blocks)}")
    return ResNet(
        input_shape, channels, kernel_size, activation, head, n_out, pooling,
        bool(train_last_layer), dtype, init_scheme, blocks,
    )
