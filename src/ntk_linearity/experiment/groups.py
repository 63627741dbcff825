"""The typed parameter groups as they are written in ``conf/<env>/parameters*.yml``.

Every group is a :class:`SettingsModel`: strict types (no ``"3"`` for 3), no unknown keys,
immutable. ``data`` and ``images`` generate the synthetic data sets, ``digits`` selects and
preprocesses scikit-learn's digits (the ``digits`` data source), ``training`` and ``hessian``
are the defaults of every run (a sweep's ``training:`` block overrides keys for its runs),
``reporting`` sets the fits and verdicts, and each block of ``sweeps:`` is a
:class:`SweepParameters` (expanded into runs by :mod:`ntk_linearity.experiment.sweeps`). The model
families' own settings are in :mod:`ntk_linearity.experiment.families`.
"""

from __future__ import annotations

import functools
import hashlib
from importlib.metadata import version
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from ntk_linearity.numerics.digits import DIGITS_CLASSES, DIGITS_SIZE, PREPROCESSINGS, subset_indices
from ntk_linearity.numerics.scaling import CI_METHODS
from ntk_linearity.numerics.training import LOSSES

# What the numerics can take: counts and sizes are array dimensions and loop bounds (int32 under JAX's
# default 32-bit mode); a seed is one 32-bit word of a PRNG key (2**32 would silently be seed 0).
INT_MAX = 2**31 - 1
SEED_MAX = 2**32 - 1
NonNegativeInt = Annotated[int, Field(ge=0, le=INT_MAX)]
PositiveInt = Annotated[int, Field(gt=0, le=INT_MAX)]
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
Number = Annotated[float, Field(allow_inf_nan=False)]
PositiveNumber = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeNumber = Annotated[float, Field(ge=0, allow_inf_nan=False)]
ON_DIVERGENCE = ("raise", "skip")
SYNTHETIC = "synthetic"  # the data source of a sweep that names none (the sources: experiment.families.SOURCES)


class SettingsModel(BaseModel):
    """Strict types (no ``"3"`` for 3, no 1.5 for an integer), no unknown keys, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Lookup(SettingsModel):
    """A setting that depends on an axis: ``{by: head, values: {linear: 8.0, swish: 20.0}}``; a value
    may be a lookup by another axis (a setting that depends on two axes)."""

    by: str
    values: dict[Any, Any]


class RelativeLearningRate(SettingsModel):
    """eta = ``relative_to_critical`` x 2 / lambda_max(K(w_0)/n), the run's own stability limit."""

    relative_to_critical: PositiveNumber


class TrainingParameters(SettingsModel):
    softmax_loss: Literal[LOSSES]
    max_steps: PositiveInt
    tol: NonNegativeNumber
    n_snapshots: Annotated[int, Field(ge=2, le=INT_MAX)]
    progress_every: PositiveInt
    divergence_factor: Annotated[float, Field(gt=1, allow_inf_nan=False)]
    on_divergence: Literal[ON_DIVERGENCE]


class HessianParameters(SettingsModel):
    lanczos_steps: PositiveInt
    probe_index: NonNegativeInt


class PathRadius(SettingsModel):
    """A radius relative to the run's own path: R = ``relative_to_path`` x ||w* - w_0||_2."""

    relative_to_path: PositiveNumber


class BallParameters(SettingsModel):
    """The ball analysis of Proposition 2.2 (:mod:`ntk_linearity.numerics.ball`), switched on by a
    ``ball:`` block in a sweep; it runs on the trained runs whose axis values are in ``where``.

    ``radii``: numbers R, or ``{relative_to_path: r}`` for R = r ||w* - w_0||; ``directions``: unit
    directions u per radius (the same for every radius, from the PRNG key of ``seed`` and the run's
    seed); ``segment_points``: at least this many grid points on each segment [w_0, w_0 + R u] (one
    grid per direction, nested over the radii) on which sup ||H|| is taken; ``path_points``: grid
    points of the path w_0 -> w*; ``probes``: the first ``probes``
    training inputs, at which ||H_x|| and the kernel are measured; ``hessian_rtol``: where the
    bisection of a non-linear head's ||H|| stops (its bracket's upper end is used)."""

    where: dict[str, list[Any]] = {}
    radii: Annotated[list[PositiveNumber | PathRadius], Field(min_length=1)]
    directions: PositiveInt
    segment_points: Annotated[int, Field(ge=2, le=INT_MAX)]
    path_points: Annotated[int, Field(ge=2, le=INT_MAX)]
    probes: PositiveInt
    hessian_rtol: NonNegativeNumber
    seed: Seed


class SweepParameters(SettingsModel):
    """One block of ``sweeps:`` as written in YAML (checked further by :func:`expand_sweep`)."""

    family: str
    architecture: str | Lookup
    settings: dict[str, Any] = {}
    axes: dict[str, list[Any]]
    fit_against: str
    group_by: list[str] = []
    training: dict[str, Any] = {}
    ball: BallParameters | None = None
    source: str = SYNTHETIC  # a data source of ntk_linearity.experiment.families.SOURCES


class DataParameters(SettingsModel):
    seed: Seed
    n_samples: PositiveInt
    input_dim: PositiveInt
    target_amplitude: Number
    target_frequency: Number
    n_classes: PositiveInt
    class_temperature: Number


class ImageParameters(SettingsModel):
    """The ``images`` group: smooth random images for the convolutional families
    (:func:`ntk_linearity.numerics.synthetic_images`)."""

    seed: Seed
    n_samples: PositiveInt
    height: PositiveInt
    width: PositiveInt
    channels: PositiveInt
    smoothness: PositiveNumber
    target_amplitude: Number
    target_frequency: Number
    n_classes: PositiveInt
    class_temperature: Number


@functools.cache
def _indices_digest(seed: int, n_samples: int) -> str:
    """The first 16 hex digits of the SHA-256 of the digits' chosen indices (int64 bytes)."""
    return hashlib.sha256(subset_indices(seed, n_samples).astype("<i8").tobytes()).hexdigest()[:16]


class DigitsParameters(SettingsModel):
    """The ``digits`` group: which of scikit-learn's 1,797 digits the ``digits`` source trains on
    (``n_samples`` of them, drawn from ``seed``), their ``preprocessing`` and the ``label_smoothing``
    of the softmax head's targets (:mod:`ntk_linearity.numerics.digits`). Its settings include its
    ``provenance`` (scikit-learn's version and a digest of the chosen indices), so that both are part
    of the fingerprint of every run on the digits."""

    seed: Seed
    n_samples: Annotated[int, Field(gt=0, le=DIGITS_SIZE)]
    preprocessing: Literal[PREPROCESSINGS]
    label_smoothing: Annotated[float, Field(ge=0, lt=1)]

    @property
    def n_classes(self) -> int:
        return DIGITS_CLASSES

    @computed_field
    @property
    def provenance(self) -> dict[str, str]:
        return {"scikit_learn": version("scikit-learn"),
                "indices_sha256": _indices_digest(self.seed, self.n_samples)}


class ReportingParameters(SettingsModel):
    time_curve_width: PositiveInt
    slope_ci_method: Literal[CI_METHODS]
    confidence: Annotated[float, Field(gt=0, lt=1)]
    linearity_threshold: NonNegativeNumber
