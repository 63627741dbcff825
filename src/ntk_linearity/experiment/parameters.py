"""Typed models of the run parameters, checked before any node runs.

``register_pipelines`` reads the merged parameters of the run environment (runtime ``--params``
included) and calls :func:`validate_parameters` before it builds anything: a bad value stops
``kedro run`` with one line naming the parameter, its value and what is allowed, and nothing in
``data/`` is touched. The result, an :class:`Experiment`, holds the typed parameter groups and every
sweep expanded into fully resolved runs (:mod:`ntk_linearity.experiment.sweeps`); the nodes receive those
typed objects and never parse raw dictionaries.

Unknown keys are refused at every level, with the closest known key suggested (a misspelt override
would otherwise be ignored silently).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
from pydantic import BaseModel, ConfigDict, ValidationError

from ntk_linearity.experiment.config import active_config_loader, active_parameters
from ntk_linearity.experiment.families import DATA_GROUPS, ModelDefaults
from ntk_linearity.experiment.groups import (
    DataParameters,
    DigitsParameters,
    HessianParameters,
    ImageParameters,
    ReportingParameters,
    SweepParameters,
    TrainingParameters,
)
from ntk_linearity.experiment.sweeps import RunSpec, SweepSpec, did_you_mean, expand_sweep
from ntk_linearity.experiment.vocabulary import FIG1_ARCHITECTURES


# The parameter group that generates each dataset a family trains on.


class ParameterError(click.ClickException, ValueError):
    """Invalid run parameters. A ``click`` exception, so ``kedro run`` prints its one-line message
    (``Error: ...``) and exits with status 1 instead of showing a traceback."""


class Parameters(BaseModel):
    """Every parameter group the pipelines read; nothing else may appear at the top level."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    data: DataParameters
    images: ImageParameters
    digits: DigitsParameters
    model: ModelDefaults
    sweeps: dict[str, SweepParameters]
    training: TrainingParameters
    hessian: HessianParameters
    reporting: ReportingParameters


@dataclass(frozen=True)
class Experiment:
    """The validated parameters and the sweeps they declare, expanded into runs."""

    parameters: Parameters
    sweeps: tuple[SweepSpec, ...]

    @property
    def runs(self) -> tuple[RunSpec, ...]:
        return tuple(run for sweep in self.sweeps for run in sweep.runs)

    @property
    def data_settings(self) -> dict[str, dict[str, Any]]:
        """The settings of each dataset, by catalog name (``synthetic_data``: the ``data`` group,
        ``synthetic_images``: the ``images`` group, ``digits``: the ``digits`` group with its
        provenance); ``data_settings[run.dataset]`` is part of each run's fingerprint."""
        return {dataset: getattr(self.parameters, group).model_dump() for dataset, group in DATA_GROUPS.items()}


def _path(location: tuple) -> str:
    """``("sweeps", "width_sweep", "axes", "width", 0)`` as ``sweeps.width_sweep.axes.width[0]``."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".")


def _fields(annotation: Any) -> dict[str, Any] | None:
    """The fields of the settings model ``annotation`` (``Model | None`` included), or ``None``."""
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if hasattr(candidate, "model_fields"):
            return candidate.model_fields
    return None


def _known_keys(location: tuple) -> list[str]:
    """The keys allowed in the mapping at ``location`` (for did-you-mean suggestions): the fields of
    the model there (``ball:`` of a sweep block included), or the keys a mapping of models is
    written with (the sweeps' names are the user's own)."""
    annotation: Any = Parameters
    for part in location:
        if getattr(annotation, "__origin__", None) is dict:  # a mapping: any key, the same model beneath
            annotation = annotation.__args__[1]
            continue
        fields = _fields(annotation)
        if fields is None or part not in fields:
            return []
        annotation = fields[part].annotation
    return list(_fields(annotation) or {})


def _describe(error: dict) -> str:
    """One pydantic error as ``<parameter> = <value>: <what is allowed>``."""
    path = _path(error["loc"])
    if error["type"] == "missing":
        return f"{path} is missing"
    if error["type"] == "extra_forbidden":
        key = error["loc"][-1]
        return (f"{path} = {error['input']!r}: not a known parameter"
                f"{did_you_mean(key, _known_keys(error['loc'][:-1]))}")
    allowed = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be", 1)
    return f"{path} = {error['input']!r}: {allowed}"


def _cross_group_problems(params: Parameters, runs: tuple[RunSpec, ...]) -> list[str]:
    """Rules that span parameter groups, in the format of :func:`_describe`."""
    problems = []
    curve_widths = sorted({run.model.width for run in runs if run.architecture in FIG1_ARCHITECTURES})
    if curve_widths and params.reporting.time_curve_width not in curve_widths:
        problems.append(f"reporting.time_curve_width = {params.reporting.time_curve_width!r}: must be "
                        f"one of the widths of the one-hidden-layer runs {curve_widths} (the width of the "
                        "curve figures)")
    scaled_softmax = sorted({run.sweep for run in runs if run.head == "softmax" and run.output_scale != 1.0})
    if scaled_softmax and params.training.softmax_loss != "square":
        problems.append(f"training.softmax_loss = {params.training.softmax_loss!r}: must be 'square' when a "
                        f"softmax head has output_scale != 1 (sweeps {', '.join(scaled_softmax)}): the scaled "
                        "model alpha (p - p_0) is no probability vector")
    for group in dict.fromkeys(DATA_GROUPS[run.dataset] for run in runs):
        data = getattr(params, group)
        if params.hessian.probe_index >= data.n_samples:
            problems.append(f"hessian.probe_index = {params.hessian.probe_index!r}: must be below "
                            f"{group}.n_samples = {data.n_samples}")
        for sweep in sorted({run.sweep for run in runs if run.ball is not None and DATA_GROUPS[run.dataset] == group}):
            probes = params.sweeps[sweep].ball.probes
            if probes > data.n_samples:
                problems.append(f"sweeps.{sweep}.ball.probes = {probes!r}: must be at most "
                                f"{group}.n_samples = {data.n_samples}")
        softmax = sorted({run.sweep for run in runs if run.head == "softmax" and DATA_GROUPS[run.dataset] == group})
        if softmax and data.n_classes < 2:
            problems.append(f"{group}.n_classes = {data.n_classes!r}: must be at least 2 for the "
                            f"softmax head (sweeps {', '.join(softmax)})")
    return problems



def _misnamed_sweeps(sweeps: Any) -> list[str]:
    """A sweep block that lacks keys every sweep needs and is named close to another sweep is a
    misspelt override (``sweeps.widht_sweep.axes.width=[8]``), not a new sweep: ask about it."""
    if not isinstance(sweeps, dict):
        return []
    required = [key for key, field in SweepParameters.model_fields.items() if field.is_required()]
    problems = []
    for name, block in sweeps.items():
        missing = [key for key in required if not isinstance(block, dict) or key not in block]
        suggestion = did_you_mean(name, [other for other in sweeps if other != name])
        if missing and suggestion:
            problems.append(f"sweeps.{name}: not a sweep of the configuration{suggestion}; a new sweep "
                            f"needs {', '.join(missing)}")
    return problems


def validate_parameters(parameters: dict[str, Any]) -> Experiment:
    """The typed parameters and expanded sweeps of a run, or :class:`ParameterError` listing every
    problem on one line.

    Checked: every group's types and ranges (strict: no ``"3"`` for 3), unknown keys at every
    level, each sweep's family, axes (known names, values of the right type, not empty, no
    repeats), fixed settings, lookups, ``fit_against`` and ``group_by`` (:func:`expand_sweep`), the
    settings of every run (e.g. an even last layer for the antisymmetric initialisation), and the
    cross-group rules of :func:`_cross_group_problems`.
    """
    if not parameters:
        raise ParameterError("invalid parameters: no parameters were found (is there a conf/ folder "
                             "with conf/base/parameters*.yml in the project root?)")
    misnamed = _misnamed_sweeps(parameters.get("sweeps"))
    if misnamed:
        raise ParameterError("invalid parameters: " + "; ".join(misnamed))
    try:
        params = Parameters.model_validate(parameters)
    except ValidationError as error:
        raise ParameterError("invalid parameters: " + "; ".join(_describe(e) for e in error.errors())) from None
    problems, sweeps = [], []
    if not params.sweeps:
        problems.append("sweeps = {}: declare at least one sweep")
    for name, block in params.sweeps.items():
        sweep, sweep_problems = expand_sweep(name, block, params.model, params.training, params.hessian)
        problems += sweep_problems
        if sweep is not None:
            sweeps.append(sweep)
    if not problems:
        runs = tuple(run for sweep in sweeps for run in sweep.runs)
        problems = _cross_group_problems(params, runs)
    if problems:
        raise ParameterError("invalid parameters: " + "; ".join(problems))
    return Experiment(params, tuple(sweeps))


_session_experiment: tuple[Any, Experiment] | None = None


def session_experiment() -> Experiment:
    """The validated :class:`Experiment` of the active run, validated once per Kedro session.

    ``register_pipelines`` and the hooks that run before any node both need it; a session records its
    config loader (:mod:`ntk_linearity.experiment.config`, runtime ``--params`` included), and the
    experiment is kept for that loader. Without a recorded loader (a notebook, a test) the parameters
    are read and validated on every call."""
    global _session_experiment  # noqa: PLW0603
    loader = active_config_loader()
    if loader is not None and _session_experiment is not None and _session_experiment[0] is loader:
        return _session_experiment[1]
    experiment = validate_parameters(active_parameters())
    if loader is not None:
        _session_experiment = (loader, experiment)
    return experiment
