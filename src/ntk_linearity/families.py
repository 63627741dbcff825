"""Model families a sweep can train: their typed settings and how a network is built from them.

A family is one entry of :data:`FAMILIES`: a pydantic model of the settings of one network (every
field may be a sweep axis, see :mod:`ntk_linearity.vocabulary`) and a function building the
network from those settings and the data. The pipelines only ever call ``family.build``; adding a
family (a convolutional network, say) means adding a settings model and an entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal, Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ntk_linearity.numerics import mlp
from ntk_linearity.numerics.models import ACTIVATIONS, HEADS, INIT_SCHEMES, SUPPORTED_DTYPES

PositiveInt = Annotated[int, Field(gt=0)]


class SettingsModel(BaseModel):
    """Strict types (no ``"3"`` for 3, no 1.5 for an integer), no unknown keys, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ModelDefaults(SettingsModel):
    """The ``model`` parameter group: settings shared by every family, defaults for every sweep."""

    activation: Literal[tuple(ACTIVATIONS)]
    train_last_layer: bool
    init_scheme: Literal[INIT_SCHEMES]
    dtype: Literal[SUPPORTED_DTYPES]


class MlpSettings(ModelDefaults):
    """A fully connected network (Eq. 4, 7, 9): ``depth`` hidden layers of width ``width``; with a
    ``bottleneck_width`` the middle hidden layer (index ``depth // 2``) has that width instead
    (Section 4, Fig. 2: hidden widths ``(m, m_b, m)`` for depth 3)."""

    width: PositiveInt
    depth: PositiveInt = 1
    bottleneck_width: PositiveInt | None = None
    head: Literal[tuple(HEADS)]

    @model_validator(mode="after")
    def _consistent(self) -> MlpSettings:
        if self.bottleneck_width is not None and self.depth < 3:
            raise ValueError(f"bottleneck_width needs depth >= 3 (a narrow layer between wide ones), "
                             f"got depth {self.depth}")
        if self.init_scheme == "antisymmetric" and self.hidden_widths[-1] % 2:
            raise ValueError(f"width = {self.hidden_widths[-1]} must be even with init_scheme "
                             "'antisymmetric' (it pairs the neurons of the last hidden layer)")
        return self

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        middle = self.depth // 2
        return tuple(self.bottleneck_width if (i == middle and self.bottleneck_width is not None)
                     else self.width for i in range(self.depth))


def n_outputs(head: str, data: Mapping[str, Any]) -> int:
    """Outputs of the network: one per class for the softmax head, one otherwise."""
    return int(np.asarray(data["y_class"]).shape[1]) if head == "softmax" else 1


def build_mlp(settings: MlpSettings, data: Mapping[str, Any]):
    """The :func:`ntk_linearity.numerics.mlp` of ``settings``; input dimension from the data."""
    return mlp(
        d_in=int(np.asarray(data["X"]).shape[1]),
        widths=settings.hidden_widths,
        activation=settings.activation,
        head=settings.head,
        n_out=n_outputs(settings.head, data),
        train_last_layer=settings.train_last_layer,
        dtype=settings.dtype,
        init_scheme=settings.init_scheme,
    )


@dataclass(frozen=True)
class Family:
    """A model family: the settings of one network and how it is built."""

    name: str
    settings: type[SettingsModel]
    build: Callable[[Any, Mapping[str, Any]], Any]
    describe: Callable[[Any], str]


FAMILIES: Mapping[str, Family] = {
    "mlp": Family("mlp", MlpSettings, build_mlp,
                  lambda s: f"widths {'x'.join(map(str, s.hidden_widths))}, head {s.head}"),
}
