"""``RunByRunRunner``, the default of ``kedro run`` (:mod:`ntk_linearity.cli`).

It is Kedro's SequentialRunner in another order: Kedro runs the nodes of a pipeline layer by layer
(every run's initialisation, then every run's training, ...), so an interrupted sweep would leave every
run started and none committed. This runner takes the same task groups as the DaskRunner
(:func:`~ntk_linearity.execution.runners.grouping.group_nodes`) one after the other, so runs are
finished -- committed by ``summarise_run`` -- one at a time and an interruption loses at most the run
in progress.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner

from ntk_linearity.execution.runners.grouping import group_nodes

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline.node import Node
    from pluggy import PluginManager


class _RunOrderedPipeline(Pipeline):
    """A pipeline whose ``nodes`` come task group by task group (:func:`group_nodes`): still a
    topological order, with each run's nodes together."""

    @property
    def nodes(self) -> list[Node]:
        return [node for group in group_nodes(Pipeline(super().nodes)) for node in group.nodes]


class RunByRunRunner(SequentialRunner):
    """Kedro's ``SequentialRunner``, one run (task group) after the other (module docstring)."""

    def _run(self, pipeline: Pipeline, catalog: CatalogProtocol, hook_manager: PluginManager | None = None,
             run_id: str | None = None) -> None:
        super()._run(_RunOrderedPipeline(pipeline.nodes), catalog, hook_manager, run_id)
