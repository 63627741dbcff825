"""Model families a sweep can train: their typed settings and how a network is built from them.

A family is one entry of :data:`FAMILIES`: a pydantic model of the settings of one network (every
field may be a sweep axis, see :mod:`ntk_linearity.experiment.vocabulary`), a function building the
network from those settings and the data, and the kind of inputs it takes (vectors or images). A
data source (:data:`SOURCES`, a sweep's ``source``) names the dataset of each kind it offers:
``synthetic`` offers ``synthetic_data`` (vectors on the sphere) and ``synthetic_images`` (smooth
random images, stored flattened with their ``image_shape``); ``digits`` offers scikit-learn's digits
(:mod:`ntk_linearity.numerics.digits`), one dataset of both kinds (its images flattened, d = 64).
The pipelines only ever call ``family.build`` and read a run's dataset; adding a family means adding
a settings model and an entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping

import numpy as np
from pydantic import model_validator

from ntk_linearity.experiment.groups import SYNTHETIC, PositiveInt, PositiveNumber, SettingsModel

from ntk_linearity.numerics import cnn, mlp, resnet
from ntk_linearity.numerics.conv import CONV_OPTIONS, POOLINGS
from ntk_linearity.numerics.models import (
    ACTIVATIONS,
    HEADS,
    INIT_SCHEMES,
    MLP_OPTIONS,
    PARAMETERIZATIONS,
    SUPPORTED_DTYPES,
)

VECTORS = "synthetic_data"    # inputs on the sphere (data_generation, parameter group `data`)
IMAGES = "synthetic_images"   # smooth random images (data_generation, parameter group `images`)
DIGITS = "digits"             # scikit-learn's digits (data_generation, parameter group `digits`)
DATA_GROUPS = {VECTORS: "data", IMAGES: "images", DIGITS: "digits"}  # each dataset's parameter group
VECTOR_INPUTS, IMAGE_INPUTS = "vectors", "images"  # the kinds of inputs a family takes
# Each data source (a sweep's `source`): the dataset it offers for each kind of inputs.
SOURCES: Mapping[str, Mapping[str, str]] = {
    SYNTHETIC: {VECTOR_INPUTS: VECTORS, IMAGE_INPUTS: IMAGES},
    "digits": {VECTOR_INPUTS: DIGITS, IMAGE_INPUTS: DIGITS},
}


class ModelDefaults(SettingsModel):
    """The ``model`` parameter group: settings shared by every family, defaults for every sweep."""

    activation: Literal[tuple(ACTIVATIONS)]
    train_last_layer: bool
    init_scheme: Literal[INIT_SCHEMES]
    dtype: Literal[SUPPORTED_DTYPES]


def _check_antisymmetric(settings: ModelDefaults, last: int, what: str) -> None:
    """The antisymmetric initialisation pairs the units of the last hidden layer: it needs an even
    count."""
    if settings.init_scheme == "antisymmetric" and last % 2:
        raise ValueError(f"{what} = {last} must be even with init_scheme 'antisymmetric' (it pairs the "
                         "units of the last hidden layer)")


def _check_narrow_layer(narrow: int | None, depth: int, what: str) -> None:
    """A bottleneck is a narrow layer between wide ones (Section 4): it needs at least 3 layers."""
    if narrow is not None and depth < 3:
        raise ValueError(f"{what} needs depth >= 3 (a narrow layer between wide ones), got depth {depth}")


def layer_sizes(wide: int, narrow: int | None, depth: int) -> tuple[int, ...]:
    """The widths (or channels) of ``depth`` layers: ``wide`` each, except the middle one (index
    ``depth // 2``), which is ``narrow`` when given (Fig. 2: ``(m, m_b, m)`` for depth 3)."""
    return tuple(narrow if (i == depth // 2 and narrow is not None) else wide for i in range(depth))


class MlpSettings(ModelDefaults):
    """A fully connected network (Eq. 4, 7, 9): ``depth`` hidden layers of width ``width``; with a
    ``bottleneck_width`` the middle hidden layer (index ``depth // 2``) has that width instead
    (Section 4, Fig. 2: hidden widths ``(m, m_b, m)`` for depth 3). ``parameterization``: ``ntk`` (the
    paper's) or ``standard`` (weights N(0, 1/fan_in), Appendix B); ``output_scale`` alpha: the lazy-training
    model ``f_alpha = alpha (f - f(w_0))`` trained on the loss divided by alpha^2 (Appendix A)."""

    width: PositiveInt
    depth: PositiveInt = 1
    bottleneck_width: PositiveInt | None = None
    head: Literal[tuple(HEADS)]
    parameterization: Literal[PARAMETERIZATIONS] = "ntk"
    output_scale: PositiveNumber = 1.0

    @model_validator(mode="after")
    def _consistent(self) -> MlpSettings:
        _check_narrow_layer(self.bottleneck_width, self.depth, "bottleneck_width")
        _check_antisymmetric(self, self.hidden_widths[-1], "width")
        return self

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        return layer_sizes(self.width, self.bottleneck_width, self.depth)


class ConvSettings(ModelDefaults):
    """What every convolutional family shares: ``k x k`` convolutions (stride 1, SAME padding, no
    biases), ``channels`` C in the wide layers, a pooling of the last feature map and a dense readout
    with ``head`` (:mod:`ntk_linearity.numerics.conv`). The swept width is C."""

    channels: PositiveInt
    kernel_size: PositiveInt = 3
    pooling: Literal[POOLINGS] = "global_average"
    head: Literal[tuple(HEADS)]

    @model_validator(mode="after")
    def _odd_kernel(self) -> ConvSettings:
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size = {self.kernel_size} must be odd (SAME padding centred on "
                             "each pixel)")
        return self


class CnnSettings(ConvSettings):
    """A plain CNN: ``depth`` convolutions + activation, all with ``channels`` output channels; with
    ``bottleneck_channels`` the middle one (index ``depth // 2``) has that many instead (a channel
    bottleneck, Section 4: channels ``(C, C_b, C)`` for depth 3)."""

    depth: PositiveInt = 2
    bottleneck_channels: PositiveInt | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CnnSettings:
        _check_narrow_layer(self.bottleneck_channels, self.depth, "bottleneck_channels")
        _check_antisymmetric(self, self.layer_channels[-1], "channels")
        return self

    @property
    def layer_channels(self) -> tuple[int, ...]:
        return layer_sizes(self.channels, self.bottleneck_channels, self.depth)


class ResNetSettings(ConvSettings):
    """A ResNet (:class:`ntk_linearity.numerics.conv.ResNet`): ``stages`` stages of ``channels``
    channels each (an entry convolution, stride 2 from the second stage on, then ``blocks`` residual
    blocks ``a <- (a + conv(sigma(conv(a)))) / sqrt(2)``)."""

    blocks: PositiveInt = 2
    stages: PositiveInt = 1

    @model_validator(mode="after")
    def _consistent(self) -> ResNetSettings:
        _check_antisymmetric(self, self.channels, "channels")
        return self


def n_outputs(head: str, data: Mapping[str, Any]) -> int:
    """Outputs of the network: one per column of its targets (the class labels ``y_class`` for the
    softmax head, ``y`` otherwise: one output for a vector, C for one-hot rows)."""
    targets = np.asarray(data["y_class"] if head == "softmax" else data["y"])
    return int(targets.shape[1]) if targets.ndim == 2 else 1


def build_mlp(settings: MlpSettings, data: Mapping[str, Any]):
    """The :func:`ntk_linearity.numerics.mlp` of ``settings``; input dimension from the data."""
    return mlp(d_in=int(np.asarray(data["X"]).shape[1]), widths=settings.hidden_widths,
               n_out=n_outputs(settings.head, data), **settings.model_dump(include=MLP_OPTIONS))


def image_shape(data: Mapping[str, Any]) -> tuple[int, int, int]:
    """``(height, width, channels)`` of the images of an image dataset."""
    if "image_shape" not in data:
        raise ValueError(f"a convolutional network needs image inputs (a dataset with 'image_shape', "
                         f"e.g. {IMAGES!r}), got a dataset with keys {sorted(data)}")
    return tuple(int(v) for v in np.asarray(data["image_shape"]))


def _conv_arguments(settings: ConvSettings, data: Mapping[str, Any]) -> dict[str, Any]:
    """What :func:`~ntk_linearity.numerics.cnn` and :func:`~ntk_linearity.numerics.resnet` take from the
    settings and the data, besides their layer sizes."""
    return dict(input_shape=image_shape(data), n_out=n_outputs(settings.head, data),
                **settings.model_dump(include=CONV_OPTIONS))


def build_cnn(settings: CnnSettings, data: Mapping[str, Any]):
    """The :func:`ntk_linearity.numerics.cnn` of ``settings``; image shape from the data."""
    return cnn(channels=settings.layer_channels, **_conv_arguments(settings, data))


def build_resnet(settings: ResNetSettings, data: Mapping[str, Any]):
    """The :func:`ntk_linearity.numerics.resnet` of ``settings``; image shape from the data."""
    return resnet(channels=(settings.channels,) * settings.stages, blocks=settings.blocks,
                  **_conv_arguments(settings, data))


@dataclass(frozen=True)
class Family:
    """A model family: the settings of one network, how it is built and the kind of inputs it takes."""

    name: str
    settings: type[SettingsModel]
    build: Callable[[Any, Mapping[str, Any]], Any]
    describe: Callable[[Any], str]
    inputs: str = VECTOR_INPUTS


def dataset_of(family: str, source: str) -> str:
    """The catalog name of the data a run of ``family`` trains on with the data source ``source``."""
    return SOURCES[source][FAMILIES[family].inputs]


def _describe_conv(s: ConvSettings, layers: str) -> str:
    return f"{layers}, {s.kernel_size}x{s.kernel_size} kernels, {s.pooling.replace('_', ' ')} pooling, head {s.head}"


FAMILIES: Mapping[str, Family] = {
    "mlp": Family("mlp", MlpSettings, build_mlp,
                  lambda s: (f"widths {'x'.join(map(str, s.hidden_widths))}, head {s.head}"
                             + (", standard parameterisation" if s.parameterization == "standard" else "")
                             + (f", output scale {s.output_scale:g}" if s.output_scale != 1.0 else ""))),
    "cnn": Family("cnn", CnnSettings, build_cnn,
                  lambda s: _describe_conv(s, f"channels {'x'.join(map(str, s.layer_channels))}"),
                  inputs=IMAGE_INPUTS),
    "resnet": Family("resnet", ResNetSettings, build_resnet,
                     lambda s: _describe_conv(s, f"{s.stages} stage(s) of {s.blocks} residual blocks, "
                                                 f"{s.channels} channels"),
                     inputs=IMAGE_INPUTS),
}
