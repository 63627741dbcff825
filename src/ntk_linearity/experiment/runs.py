"""What the expanded sweeps are made of: a :class:`RunSpec` is one trained network, fully resolved; a
:class:`SweepSpec` is a validated sweep, its runs and how they are fitted and drawn
(:func:`ntk_linearity.experiment.sweeps.expand_sweep` makes them from the YAML blocks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ntk_linearity.experiment.families import FAMILIES, dataset_of
from ntk_linearity.experiment.groups import (
    SYNTHETIC,
    BallParameters,
    HessianParameters,
    RelativeLearningRate,
    SettingsModel,
    TrainingParameters,
)

SWEEPS_NAMESPACE = "sweeps"
"""The Kedro namespace of every sweep's nodes (not of their datasets): kedro-viz draws all sweeps as
one box, and a node of a run is ``sweeps.<sweep>.<group>.<run>.<node>``."""


@dataclass(frozen=True)
class RunSpec:
    """One trained network, fully resolved: what every node of its namespace receives."""

    sweep: str
    name: str
    family: str
    architecture: str
    group: str
    axes: tuple[tuple[str, Any], ...]  # the swept (axis, value) pairs, in the sweep's axis order
    seed: int
    model: SettingsModel
    learning_rate: float | RelativeLearningRate
    training: TrainingParameters
    hessian: HessianParameters
    ball: BallParameters | None = None  # the ball analysis of Proposition 2.2, where switched on
    source: str = SYNTHETIC  # the data source of its sweep

    @property
    def namespace(self) -> str:
        """``<sweep>.<run>``: the run's identity in tables, logs and messages."""
        return f"{self.sweep}.{self.name}"

    @property
    def pipeline_namespace(self) -> str:
        """``<sweep>.<group>.<run>``: the Kedro namespace of the run's nodes and datasets."""
        return f"{self.sweep}.{self.group}.{self.name}"

    @property
    def node_namespace(self) -> str:
        """``sweeps.<sweep>.<group>.<run>``: the namespace of the run's nodes (:data:`SWEEPS_NAMESPACE`)."""
        return f"{SWEEPS_NAMESPACE}.{self.pipeline_namespace}"

    @property
    def head(self) -> str:
        return self.model.head

    @property
    def loss(self) -> str:
        """The loss this run is trained on (:data:`~ntk_linearity.numerics.training.LOSSES`): the square loss,
        or ``training.softmax_loss`` for a softmax head."""
        return self.training.softmax_loss if self.head == "softmax" else "square"

    @property
    def dataset(self) -> str:
        """The catalog name of the data this run trains on (:func:`~ntk_linearity.experiment.families.dataset_of`)."""
        return dataset_of(self.family, self.source)

    @property
    def output_scale(self) -> float:
        """alpha of the lazy-training model ``alpha (f - f(w_0))`` (1 for a family without the setting)."""
        return float(getattr(self.model, "output_scale", 1.0))

    def build(self, data: Mapping[str, Any]):
        """The network of this run (input and output sizes from the data)."""
        return FAMILIES[self.family].build(self.model, data)

    def describe(self) -> str:
        return FAMILIES[self.family].describe(self.model)

    def as_record(self) -> dict[str, Any]:
        """The run's identity as the columns of ``runs.csv``: namespace, sweep, architecture, group,
        seed and every model setting (an axis or not)."""
        return {"namespace": self.namespace, "sweep": self.sweep, "family": self.family,
                "architecture": self.architecture, "group": self.group, "seed": self.seed,
                **self.model.model_dump()}


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: its runs and how its results are fitted and drawn."""

    name: str
    family: str
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    fit_against: str
    group_by: tuple[str, ...]
    runs: tuple[RunSpec, ...]
    source: str = SYNTHETIC

    @property
    def dataset(self) -> str:
        """The catalog name of the data every run of this sweep trains on (as :attr:`RunSpec.dataset`)."""
        return dataset_of(self.family, self.source)

    @property
    def architectures(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(run.architecture for run in self.runs))

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(run.group for run in self.runs))

    @property
    def ball_runs(self) -> tuple[RunSpec, ...]:
        """The runs with the ball analysis of Proposition 2.2."""
        return tuple(run for run in self.runs if run.ball is not None)
