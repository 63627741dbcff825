"""The experiment model: a sweep is a block of YAML, a run is one point of its grid.

``sweeps:`` in the parameters maps a sweep name to

* ``family``: a model family of :data:`ntk_linearity.experiment.families.FAMILIES` (``mlp``, ``cnn``,
  ``resnet``); it takes vectors or images;
* ``source`` (optional, default ``synthetic``): a data source of
  :data:`ntk_linearity.experiment.families.SOURCES` (``synthetic``, ``digits``); with the family's
  kind of inputs it fixes the dataset the runs train on;
* ``architecture``: an entry of :data:`ntk_linearity.experiment.vocabulary.ARCHITECTURES`, or a lookup
  ``{by: <axis>, values: {<axis value>: <architecture>}}`` (a value may itself be a lookup by another
  axis: ``{by: parameterization, values: {ntk: {by: head, values: {...}}, ...}}``);
* ``settings``: fixed settings of every run (any field of the family's settings, ``seed``,
  ``learning_rate`` or ``eta_lambda0``), each a value or a lookup ``{by: <axis>, values: {...}}``;
  the ``model`` parameter group supplies the defaults;
* ``axes``: lists of values for any of those settings; the runs are their Cartesian product, in the
  order the axes are written;
* ``fit_against``: the axis the scaling exponents are fitted against (``width``);
* ``group_by``: the axes whose values separate the curves (``[head]``); one fit per group;
* ``training`` (optional): keys of the ``training`` parameter group set differently for this sweep's
  runs (``on_divergence: skip``, ``divergence_factor``, ...); they are part of each run's settings.

A run's name joins its axis values with their tokens (``linear_m1000_s0``), so its namespace
``<sweep>.<run>`` (its identity in every table) is stable and readable; its datasets live in the Kedro
namespace ``<sweep>.<group>.<run>`` (:attr:`~ntk_linearity.experiment.runs.RunSpec.pipeline_namespace`) and its
nodes in ``sweeps.<sweep>.<group>.<run>`` (:attr:`~ntk_linearity.experiment.runs.RunSpec.node_namespace`), so that
kedro-viz shows all sweeps as one box and an expanded sweep as its groups. The step size is set by exactly one of ``learning_rate``
(a number, or ``{relative_to_critical: r}``: eta = r * 2 / lambda_max(K(w_0)/n), computed per run at
w_0) and ``eta_lambda0`` (eta * lambda_0 itself, eta = value / lambda_0: the linearised model of the
square loss is stable below 2; an axis of it spells run names ``el2p6_m1000_s0``). The two name the
same runs: ``eta_lambda0: c`` is ``learning_rate: {relative_to_critical: c / 2}``.

:func:`expand_sweep` turns the typed block into :class:`RunSpec` objects, collecting every problem
(unknown axes, values of the wrong type, empty axes, ...) as one-line messages instead of raising.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass
from typing import Annotated, Any, Mapping

from pydantic import TypeAdapter, ValidationError

from ntk_linearity.experiment.families import FAMILIES, SOURCES, ModelDefaults
from ntk_linearity.experiment.groups import (
    BallParameters,
    HessianParameters,
    Lookup,
    PositiveNumber,
    RelativeLearningRate,
    Seed,
    SettingsModel,
    SweepParameters,
    TrainingParameters,
)
from ntk_linearity.experiment.runs import RunSpec, SweepSpec
from ntk_linearity.experiment.vocabulary import ARCHITECTURES, AXES, SEED_AXIS, axis_token

SWEEP_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
LEARNING_RATE = "learning_rate"
ETA_LAMBDA0 = "eta_lambda0"  # the step size as eta * lambda_max(K(w_0)/n), the alternative to LEARNING_RATE
ALL_RUNS_GROUP = "all"
RESERVED_NAMES = ("data_generation", "reporting")  # pipelines that are not sweeps



def did_you_mean(word: str, known) -> str:
    """``" (did you mean 'width'?)"`` for the closest of ``known``, or ``""``."""
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _value_adapter(family_settings: type[SettingsModel], axis: str) -> TypeAdapter:
    """The strict type of one setting: a field of the family, the seed or the step size."""
    if axis == SEED_AXIS:
        return TypeAdapter(Seed)
    if axis in (LEARNING_RATE, ETA_LAMBDA0):
        return TypeAdapter(PositiveNumber)
    field = family_settings.model_fields[axis]
    return TypeAdapter(Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation)


def _learning_rate(value: Any) -> float | RelativeLearningRate:
    """A positive number, or ``{relative_to_critical: r}`` with r > 0."""
    if isinstance(value, dict):
        return RelativeLearningRate.model_validate(value)
    return TypeAdapter(PositiveNumber).validate_python(value, strict=True)


def _relative_learning_rate(eta_lambda0: Any) -> RelativeLearningRate:
    """eta * lambda_0 = c as the relative learning rate c / 2 (halving is exact in binary floating
    point, so eta = (c / 2) * 2 / lambda_0 = c / lambda_0 to the last bit)."""
    value = TypeAdapter(PositiveNumber).validate_python(eta_lambda0, strict=True)
    return RelativeLearningRate(relative_to_critical=value / 2)


def _sweep_training(path: str, overrides: Mapping[str, Any],
                    training: TrainingParameters) -> tuple[TrainingParameters | None, list[str]]:
    """The ``training`` group with a sweep's ``overrides``, or ``None`` and one line per problem."""
    known = list(TrainingParameters.model_fields)
    problems = [f"{path}.training.{key}: not a training setting{did_you_mean(key, known)}; settings: "
                f"{', '.join(known)}" for key in overrides if key not in known]
    if problems:
        return None, problems
    try:
        return TrainingParameters.model_validate(training.model_dump() | dict(overrides)), []
    except ValidationError as error:
        return None, [f"{path}.training.{'.'.join(map(str, e['loc']))} = {e['input']!r}: {_message(e)}"
                      for e in error.errors()]


def _lookup(value: Any, point: Mapping[str, Any]) -> Any:
    """Resolve a :class:`Lookup` (or its dict form, nested lookups included) at the run's axis values."""
    if isinstance(value, Lookup):
        key = point[value.by]
        return _lookup(value.values[key] if key in value.values else value.values[str(key)], point)
    if isinstance(value, dict) and set(value) == {"by", "values"}:
        return _lookup(Lookup.model_validate(value), point)
    return value


def _check_lookup(path: str, value: Any, axes: Mapping[str, list]) -> list[str]:
    """A lookup must name an axis and give a value for each of that axis' values (and so must every
    lookup nested in it)."""
    if isinstance(value, dict) and set(value) == {"by", "values"}:
        value = Lookup.model_validate(value)
    if not isinstance(value, Lookup):
        return []
    if value.by not in axes:
        return [f"{path}.by = {value.by!r}: must be one of the sweep's axes {list(axes)}"]
    missing = [v for v in axes[value.by] if v not in value.values and str(v) not in value.values]
    nested = [problem for key, inner in value.values.items()
              for problem in _check_lookup(f"{path}.values.{key}", inner, axes)]
    return [f"{path}.values: no value for {value.by} = {v!r}" for v in missing] + nested


def _message(error: dict) -> str:
    return error["msg"].removeprefix("Value error, ").replace("Input should be", "must be", 1)


def _selected(ball: BallParameters | None, point: Mapping[str, Any]) -> bool:
    """Whether the run at the axis values ``point`` gets the ball analysis: every axis of
    ``ball.where`` lists its value (values outside the sweep's grid select nothing, so an environment
    may narrow the grid)."""
    return ball is not None and all(point[axis] in values for axis, values in ball.where.items())


def _name_problems(name: str, sweep: SweepParameters) -> list[str]:
    """A sweep name must not be a pipeline's and must be a valid Kedro namespace; its family and its
    data source must exist, and the source must offer the family's kind of inputs."""
    path = f"sweeps.{name}"
    if name in RESERVED_NAMES:
        return [f"{path}: {name!r} is the name of a pipeline; choose another sweep name"]
    if not SWEEP_NAME.match(name):
        return [f"{path}: a sweep name must be lower-case letters, digits and underscores, "
                "starting with a letter (it becomes a Kedro namespace)"]
    if sweep.family not in FAMILIES:
        return [f"{path}.family = {sweep.family!r}: must be one of {list(FAMILIES)}"
                f"{did_you_mean(sweep.family, FAMILIES)}"]
    offered = SOURCES.get(sweep.source)
    if offered is None:
        return [f"{path}.source = {sweep.source!r}: must be one of {list(SOURCES)}{did_you_mean(sweep.source, SOURCES)}"]
    inputs = FAMILIES[sweep.family].inputs
    return [] if inputs in offered else [f"{path}.source = {sweep.source!r}: family {sweep.family!r} takes {inputs}, "
                                         f"which source {sweep.source!r} does not offer (it offers {', '.join(offered)})"]


def _values_problems(path: str, settings: type[SettingsModel], axis: str, values: list) -> list[str]:
    """Each value of ``values`` must have the strict type of the setting ``axis``."""
    adapter = _value_adapter(settings, axis)  # an axis of learning rates lists numbers
    problems = []
    for i, value in enumerate(values):
        try:
            adapter.validate_python(value, strict=True)
        except ValidationError as error:
            problems.append(f"{path}[{i}] = {value!r}: {_message(error.errors()[0])}")
    return problems


def _axes_problems(path: str, sweep: SweepParameters, settings: type[SettingsModel]) -> list[str]:
    """Every axis must be a setting of the family (or seed, learning_rate, eta_lambda0) and list
    distinct values of its type; every fixed setting must be a setting of the family."""
    allowed = [*settings.model_fields, SEED_AXIS, LEARNING_RATE, ETA_LAMBDA0]
    known = [axis for axis in allowed if axis in AXES]
    problems = []
    for axis, values in sweep.axes.items():
        if axis not in known:
            problems.append(f"{path}.axes.{axis}: not an axis of family {sweep.family!r}"
                            f"{did_you_mean(axis, known)}; axes: {', '.join(known)}")
        elif not values:
            problems.append(f"{path}.axes.{axis} = []: must not be empty")
        else:
            problems += _values_problems(f"{path}.axes.{axis}", settings, axis, values)
            tokens = [axis_token(axis, v) for v in values]
            if len(set(tokens)) != len(tokens):
                problems.append(f"{path}.axes.{axis} = {values!r}: must not repeat a value")
    problems += [f"{path}.settings.{key}: not a setting of family {sweep.family!r}{did_you_mean(key, allowed)}"
                 for key in sweep.settings if key not in allowed]
    for key, value in sweep.settings.items():
        problems += _check_lookup(f"{path}.settings.{key}", value, sweep.axes)
    return problems + _check_lookup(f"{path}.architecture", sweep.architecture, sweep.axes)


def _grouping_problems(path: str, sweep: SweepParameters) -> list[str]:
    """``fit_against`` must be an axis other than the seed; ``group_by`` axes other than both; the
    seed and exactly one step size must be set."""
    problems = []
    fit_axes = [a for a in sweep.axes if a != SEED_AXIS]
    if sweep.fit_against not in fit_axes:
        problems.append(f"{path}.fit_against = {sweep.fit_against!r}: must be one of the sweep's axes "
                        f"{fit_axes}{did_you_mean(sweep.fit_against, fit_axes)}")
    for axis in sweep.group_by:
        if axis not in sweep.axes or axis in (sweep.fit_against, SEED_AXIS):
            problems.append(f"{path}.group_by: {axis!r} must be an axis of the sweep other than "
                            f"fit_against and seed")
    if SEED_AXIS not in sweep.axes and SEED_AXIS not in sweep.settings:
        problems.append(f"{path}: {SEED_AXIS} must be set, in settings or as an axis")
    step_size = [key for key in (LEARNING_RATE, ETA_LAMBDA0) if key in sweep.axes or key in sweep.settings]
    if not step_size:
        problems.append(f"{path}: {LEARNING_RATE} (or {ETA_LAMBDA0}) must be set, in settings or as an axis")
    elif len(step_size) > 1:
        problems.append(f"{path}: set the step size by {LEARNING_RATE} or by {ETA_LAMBDA0}, not both")
    return problems


def _ball_problems(path: str, sweep: SweepParameters, settings: type[SettingsModel]) -> list[str]:
    """``ball.where`` must select by axes of the sweep, with values of their types."""
    if sweep.ball is None:
        return []
    problems = []
    for axis, values in sweep.ball.where.items():
        if axis not in sweep.axes:
            problems.append(f"{path}.ball.where.{axis}: not an axis of the sweep {list(sweep.axes)}"
                            f"{did_you_mean(axis, sweep.axes)}")
        else:
            problems += _values_problems(f"{path}.ball.where.{axis}", settings, axis, values)
    return problems


@dataclass(frozen=True)
class _SweepContext:
    """What every run of one sweep shares while it is expanded."""

    name: str
    sweep: SweepParameters
    defaults: ModelDefaults
    training: TrainingParameters
    hessian: HessianParameters

    @property
    def path(self) -> str:
        return f"sweeps.{self.name}"


def _step_size(value: Any, relative: bool) -> float | RelativeLearningRate:
    """The run's step size from its ``eta_lambda0`` (``relative``) or ``learning_rate`` value."""
    return _relative_learning_rate(value) if relative else _learning_rate(value)


def _run_settings(context: _SweepContext, point: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """(model settings, seed, step size) of the run at the axis values ``point``, or ``None`` and
    its problems."""
    family = FAMILIES[context.sweep.family]
    resolved = (context.defaults.model_dump()
                | {k: _lookup(v, point) for k, v in context.sweep.settings.items()} | point)
    seed = resolved.pop(SEED_AXIS)
    relative = ETA_LAMBDA0 in resolved
    step = resolved.pop(ETA_LAMBDA0 if relative else LEARNING_RATE)
    try:
        model = family.settings.model_validate(resolved)
        seed = _value_adapter(family.settings, SEED_AXIS).validate_python(seed, strict=True)
    except ValidationError as error:
        return None, [f"{'.'.join(map(str, e['loc'])) + ' ' if e['loc'] else ''}{_message(e)}"
                      for e in error.errors()]
    try:
        return (model, seed, _step_size(step, relative)), []
    except ValidationError as error:
        e = error.errors()[0]
        where = ".".join(map(str, (ETA_LAMBDA0 if relative else LEARNING_RATE, *e["loc"])))
        return None, [f"{where} = {step!r}: {_message(e)}"]


def _expand_run(context: _SweepContext, point: Mapping[str, Any]) -> tuple[RunSpec | None, list[str]]:
    """The :class:`RunSpec` at the axis values ``point``, or ``None`` and its problems."""
    sweep, path = context.sweep, context.path
    architecture = _lookup(sweep.architecture, point)
    if architecture not in ARCHITECTURES:
        return None, [f"{path}.architecture = {architecture!r}: must be one of "
                      f"{list(ARCHITECTURES)}{did_you_mean(architecture, ARCHITECTURES)}"]
    settings, problems = _run_settings(context, point)
    if settings is None:
        return None, problems
    model, seed, learning_rate = settings
    ball = sweep.ball if _selected(sweep.ball, point) else None
    if ball is not None and (sweep.family != "mlp" or model.depth != 1):
        return None, [f"{path}.ball: the ball analysis needs one-hidden-layer mlp runs "
                      "(the closed-form ||H||); narrow ball.where"]
    run_name = "_".join(axis_token(a, v) for a, v in point.items())
    group = "_".join(axis_token(a, point[a]) for a in sweep.group_by) or ALL_RUNS_GROUP
    return RunSpec(context.name, run_name, sweep.family, architecture, group, tuple(point.items()),
                   seed, model, learning_rate, context.training, context.hessian, ball, sweep.source), []


def expand_sweep(name: str, sweep: SweepParameters, defaults: ModelDefaults, training: TrainingParameters,
                 hessian: HessianParameters) -> tuple[SweepSpec | None, list[str]]:
    """The runs of one sweep, or ``None`` and every problem found (one line each; a problem that
    several runs share is named once, with the first run that has it)."""
    path = f"sweeps.{name}"
    problems = _name_problems(name, sweep)
    if problems:
        return None, problems
    settings = FAMILIES[sweep.family].settings
    problems = _axes_problems(path, sweep, settings) + _grouping_problems(path, sweep)
    sweep_training, training_problems = _sweep_training(path, sweep.training, training)
    problems += training_problems + _ball_problems(path, sweep, settings)
    if problems:
        return None, problems
    context = _SweepContext(name, sweep, defaults, sweep_training, hessian)
    runs, run_problems = [], {}
    for combination in itertools.product(*sweep.axes.values()):
        point = dict(zip(sweep.axes, combination))
        run, problems = _expand_run(context, point)
        for problem in problems:
            run_problems.setdefault(problem, "_".join(axis_token(a, v) for a, v in point.items()))
        if run is not None:
            runs.append(run)
    if run_problems:
        return None, [f"{path} (run {run}): {problem}" for problem, run in run_problems.items()]
    axes = tuple((axis, tuple(values)) for axis, values in sweep.axes.items())
    return SweepSpec(name, sweep.family, axes, sweep.fit_against, tuple(sweep.group_by), tuple(runs),
                     sweep.source), []
