"""Grouping a pipeline's nodes into tasks, shared by both runners.

A node of a run's chain (namespace ``sweeps.<sweep>.<group>.<run>``) belongs to the task of that run, named
``<sweep>.<run>`` (``width_sweep.linear_m30_s0``: init -> train -> hessian run one after the other in
one task); every other node (data generation, reporting, a group's or a sweep's node such as
``sweeps.width_sweep.linear.collect_summaries`` or ``sweeps.width_sweep.gather_results``) is a task of its own. The
DaskRunner runs each group as one Dask task; the RunByRunRunner runs the groups one after the other.
"""

from __future__ import annotations

import graphlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ntk_linearity.execution.progress import run_namespace

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskGroup:
    """Nodes that run one after the other in one Dask task."""

    name: str  # the run namespace ``<sweep>.<run>``, or the node's name
    nodes: tuple[Node, ...]  # in topological order
    upstream: frozenset[str] = field(default_factory=frozenset)  # names of the groups it depends on


def group_name(node: Node) -> str:
    """``<sweep>.<run>`` for a node of a run's chain, else the node's own name."""
    return run_namespace(node) or node.name


def group_nodes(pipeline: Pipeline) -> list[TaskGroup]:
    """The pipeline's nodes grouped into tasks (:func:`group_name`), groups in topological order.

    If the grouping makes a cycle (a node outside a run both consumes from and feeds the same run),
    every node becomes its own group, which is always acyclic.
    """
    groups = _group_by(pipeline, group_name)
    try:
        order = list(graphlib.TopologicalSorter({g: deps for g, (_, deps) in groups.items()}).static_order())
    except graphlib.CycleError as exc:
        logger.warning("Grouping nodes by run namespace makes a cycle (%s); one Dask task per node instead",
                       exc.args[1] if len(exc.args) > 1 else exc)
        groups = _group_by(pipeline, lambda node: node.name)
        order = list(graphlib.TopologicalSorter({g: deps for g, (_, deps) in groups.items()}).static_order())
    return [TaskGroup(name, tuple(groups[name][0]), frozenset(groups[name][1])) for name in order]


def _group_by(pipeline: Pipeline, key) -> dict[str, tuple[list[Node], set[str]]]:
    groups: dict[str, tuple[list[Node], set[str]]] = {}
    for node in pipeline.nodes:  # topological order, so each group's nodes are too
        groups.setdefault(key(node), ([], set()))[0].append(node)
    for node, parents in pipeline.node_dependencies.items():
        name = key(node)
        groups[name][1].update(key(parent) for parent in parents if key(parent) != name)
    return groups
