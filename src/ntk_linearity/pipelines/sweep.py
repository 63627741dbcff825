"""The sweep grid: one :class:`RunSpec` per trained network, and namespaced copies of a pipeline.

Two sweeps (DESIGN.md section 3):

* ``width_sweep``: one hidden layer of width m, head linear / swish / softmax, several seeds
  (E1, E2, E4, E5, E6);
* ``bottleneck_sweep``: three hidden layers ``(m, m_b, m)`` with a linear head (E3, E4).

Each run is a Kedro namespace ``<sweep>.<run>`` so its datasets come from the catalog's dataset
factories and kedro-viz draws every run as a collapsible group.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Callable

from kedro.pipeline import Pipeline

WIDTH_SWEEP = "width_sweep"
BOTTLENECK_SWEEP = "bottleneck_sweep"
ARCHITECTURES = {"linear": "linear_output", "swish": "swish_output", "softmax": "softmax_output"}
BOTTLENECK = "bottleneck"


@dataclass(frozen=True)
class RunSpec:
    """One trained network: its architecture, widths and seed."""

    sweep: str
    architecture: str  # linear_output | swish_output | softmax_output | bottleneck
    head: str
    width: int  # m, the wide hidden layers
    bottleneck_width: int | None  # m_b, or None for the one-hidden-layer network
    seed: int

    @property
    def name(self) -> str:
        if self.bottleneck_width is None:
            return f"{self.head}_m{self.width}_s{self.seed}"
        return f"mb{self.bottleneck_width}_m{self.width}_s{self.seed}"

    @property
    def namespace(self) -> str:
        return f"{self.sweep}.{self.name}"

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        if self.bottleneck_width is None:
            return (self.width,)
        return (self.width, self.bottleneck_width, self.width)

    def as_record(self) -> dict:
        return {"namespace": self.namespace, **asdict(self)}


def expand_runs(sweeps: dict) -> list[RunSpec]:
    """All runs of the ``sweeps`` parameters, in a fixed order."""
    seeds = sweeps["seeds"]
    width = sweeps["width_sweep"]
    runs = [
        RunSpec(WIDTH_SWEEP, ARCHITECTURES[head], head, int(m), None, int(seed))
        for head in width["heads"]
        for m in width["widths"]
        for seed in seeds
    ]
    bottleneck = sweeps["bottleneck_sweep"]
    runs += [
        RunSpec(BOTTLENECK_SWEEP, BOTTLENECK, "linear", int(bottleneck["width"]), int(mb), int(seed))
        for mb in bottleneck["bottleneck_widths"]
        for seed in seeds
    ]
    return runs


def bind_run(func: Callable, run: RunSpec) -> Callable:
    """``func`` with its keyword ``run`` bound, keeping its name and docstring for Kedro and kedro-viz."""
    return functools.update_wrapper(functools.partial(func, run=run), func)


def namespaced(template: Callable[[RunSpec], Pipeline], runs: list[RunSpec], shared: set[str]) -> Pipeline:
    """The sum over ``runs`` of ``template(run)`` in the run's namespace; ``shared`` datasets and
    ``params:`` entries are left un-prefixed."""
    total = Pipeline([])
    for run in runs:
        total += Pipeline(
            template(run),
            inputs={name for name in shared if not name.startswith("params:")},
            parameters={name for name in shared if name.startswith("params:")},
            namespace=run.namespace,
        )
    return total
