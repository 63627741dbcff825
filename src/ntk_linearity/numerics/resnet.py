"""NTK-parameterised residual networks (beyond the paper: Section 4's bottleneck argument applied to
the channels of a residual stream), built on the convolutions of :mod:`ntk_linearity.numerics.conv`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jax.numpy as jnp

from ntk_linearity.numerics.conv import ConvLayer, ConvNet, validated
from ntk_linearity.numerics.models import ACTIVATIONS


@dataclass(frozen=True)
class ResNet(ConvNet):
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

    blocks: tuple[int, ...]

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


def _checked_blocks(blocks, stages: int) -> tuple[int, ...]:
    """``blocks`` as one non-negative count per stage (an int applies to every stage)."""
    blocks = (blocks,) * stages if isinstance(blocks, int) and not isinstance(blocks, bool) else tuple(blocks)
    if len(blocks) != stages:
        raise ValueError(f"blocks must be an int or one entry per stage ({stages}), got {list(blocks)}")
    for b in blocks:
        if not isinstance(b, int) or isinstance(b, bool) or b < 0:
            raise ValueError(f"blocks entries must be non-negative integers, got {b!r} in {list(blocks)}")
    return blocks


def resnet(
    input_shape,
    channels,
    blocks,
    *,
    kernel_size: int,
    activation: str,
    head: str,
    n_out: int = 1,
    pooling: str,
    train_last_layer: bool,
    dtype: str,
    init_scheme: str,
) -> ResNet:
    """Build an NTK-parameterised ResNet with one stage per entry of ``channels`` and ``blocks``
    residual blocks per stage (an int applies to every stage); see :class:`ResNet`.

    Eleven parameters: the keyword-only options (:data:`~ntk_linearity.numerics.conv.CONV_OPTIONS`)
    mirror the typed settings of an experiment, passed explicitly and never defaulted here."""
    model = validated(ResNet(input_shape, channels, kernel_size, activation, head, n_out, pooling,
                             train_last_layer, dtype, init_scheme, blocks))
    return dataclasses.replace(model, blocks=_checked_blocks(blocks, len(model.channels)))
