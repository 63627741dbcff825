"""Typed models of the run parameters, checked before any node runs.

Kedro 1.7 validates a ``params:`` node input against a pydantic model when the node's signature
annotates it, but only when the session builds the catalog, one parameter group at a time, with a
multi-line report, and the nodes then receive model instances instead of the dicts they index. Here
the sweep grids are read earlier, by ``register_pipelines``, to build the namespaced pipelines, and
several rules span groups (the probe input must lie inside the data, the time-curve width must be a
swept width). So ``register_pipelines`` calls :func:`validate_parameters` on the merged parameters
of the run environment (runtime ``--params`` included) before it builds anything: a bad value stops
``kedro run`` with one line naming the parameter, its value and what is allowed, and nothing in
``data/`` is touched.

Unknown keys inside a group are refused (a misspelt override would otherwise be ignored silently);
top-level groups other than those modelled here are left alone.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import click
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from ntk_linearity.numerics.models import ACTIVATIONS, INIT_SCHEMES, SUPPORTED_DTYPES
from ntk_linearity.numerics.scaling import CI_METHODS
from ntk_linearity.numerics.training import LOSSES
from ntk_linearity.pipelines.sweep import ARCHITECTURES

T = TypeVar("T")
ON_DIVERGENCE = ("raise", "skip")


class ParameterError(click.ClickException, ValueError):
    """Invalid run parameters. A ``click`` exception, so ``kedro run`` prints its one-line message
    (``Error: ...``) and exits with status 1 instead of showing a traceback."""


def _grid(values: list) -> list:
    """A sweep grid: at least one value, none repeated (a repeat would duplicate a namespace)."""
    if not values:
        raise ValueError("must not be empty")
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a value")
    return values


Grid = Annotated[list[T], AfterValidator(_grid)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Number = Annotated[float, Field(allow_inf_nan=False)]
PositiveNumber = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeNumber = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Group(BaseModel):
    """A parameter group: strict types (no ``"3"`` for 3, no 1.5 for an integer), no unknown keys."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class DataParameters(_Group):
    seed: NonNegativeInt
    n_samples: PositiveInt
    input_dim: PositiveInt
    target_amplitude: Number
    target_frequency: Number
    n_classes: PositiveInt
    class_temperature: Number


class ModelParameters(_Group):
    activation: Literal[tuple(ACTIVATIONS)]
    train_last_layer: bool
    init_scheme: Literal[INIT_SCHEMES]
    dtype: Literal[SUPPORTED_DTYPES]


class WidthSweep(_Group):
    heads: Grid[Literal[tuple(ARCHITECTURES)]]
    widths: Grid[PositiveInt]


class BottleneckSweep(_Group):
    """Hidden widths ``(width, m_b, width)``: the bottleneck is always the middle layer, so there is
    no position to choose, only its width."""

    width: PositiveInt
    bottleneck_widths: Grid[PositiveInt]


class Sweeps(_Group):
    seeds: Grid[NonNegativeInt]
    width_sweep: WidthSweep
    bottleneck_sweep: BottleneckSweep


class LearningRates(_Group):
    linear_output: PositiveNumber
    swish_output: PositiveNumber
    softmax_output: PositiveNumber
    bottleneck: PositiveNumber


class TrainingParameters(_Group):
    learning_rate: LearningRates
    softmax_loss: Literal[LOSSES]
    max_steps: PositiveInt
    tol: NonNegativeNumber
    n_snapshots: Annotated[int, Field(ge=2)]
    progress_every: PositiveInt
    divergence_factor: Annotated[float, Field(gt=1, allow_inf_nan=False)]
    on_divergence: Literal[ON_DIVERGENCE]


class HessianParameters(_Group):
    lanczos_steps: PositiveInt
    probe_index: NonNegativeInt


class ReportingParameters(_Group):
    time_curve_width: PositiveInt
    slope_ci_method: Literal[CI_METHODS]
    confidence: Annotated[float, Field(gt=0, lt=1)]
    linearity_threshold: NonNegativeNumber


class Parameters(BaseModel):
    """Every parameter group the pipelines read."""

    model_config = ConfigDict(strict=True, frozen=True)

    data: DataParameters
    model: ModelParameters
    sweeps: Sweeps
    training: TrainingParameters
    hessian: HessianParameters
    reporting: ReportingParameters


def _path(location: tuple) -> str:
    """``("sweeps", "seeds", 0)`` as ``sweeps.seeds[0]``."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".")


def _describe(error: dict) -> str:
    """One pydantic error as ``<parameter> = <value>: <what is allowed>``."""
    path = _path(error["loc"])
    if error["type"] == "missing":
        return f"{path} is missing"
    if error["type"] == "extra_forbidden":
        return f"{path} = {error['input']!r}: not a known parameter"
    allowed = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be", 1)
    return f"{path} = {error['input']!r}: {allowed}"


def _cross_group_problems(params: Parameters) -> list[str]:
    """Rules that span parameter groups, in the format of :func:`_describe`."""
    problems = []
    widths = params.sweeps.width_sweep.widths
    if params.reporting.time_curve_width not in widths:
        problems.append(f"reporting.time_curve_width = {params.reporting.time_curve_width!r}: must be "
                        f"one of sweeps.width_sweep.widths {widths} (the width of the curve figures)")
    if params.hessian.probe_index >= params.data.n_samples:
        problems.append(f"hessian.probe_index = {params.hessian.probe_index!r}: must be below "
                        f"data.n_samples = {params.data.n_samples}")
    if "softmax" in params.sweeps.width_sweep.heads and params.data.n_classes < 2:
        problems.append(f"data.n_classes = {params.data.n_classes!r}: must be at least 2 for the "
                        "softmax head in sweeps.width_sweep.heads")
    if params.model.init_scheme == "antisymmetric":
        last_hidden = [(f"sweeps.width_sweep.widths[{i}]", m) for i, m in enumerate(widths)]
        last_hidden.append(("sweeps.bottleneck_sweep.width", params.sweeps.bottleneck_sweep.width))
        problems += [f"{path} = {m!r}: must be even with model.init_scheme = 'antisymmetric' "
                     "(it pairs the neurons of the last hidden layer)" for path, m in last_hidden if m % 2]
    return problems


def validate_parameters(parameters: dict[str, Any]) -> Parameters:
    """The typed ``parameters`` of a run, or :class:`ParameterError` listing every problem on one line.

    Checked: positive integer widths and step counts, non-empty grids without repeats, known
    activations, heads, dtypes, init schemes, losses and interval methods, positive finite learning
    rates, integer seeds, ``tol >= 0``, ``on_divergence`` in {raise, skip}, and the cross-group rules
    of :func:`_cross_group_problems`.
    """
    try:
        params = Parameters.model_validate(parameters)
    except ValidationError as error:
        problems = [_describe(e) for e in error.errors()]
    else:
        problems = _cross_group_problems(params)
    if problems:
        raise ParameterError("invalid parameters: " + "; ".join(problems))
    return params

