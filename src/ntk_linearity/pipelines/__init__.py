"""Kedro glue: data generation, one modular pipeline per sweep, reporting."""

from __future__ import annotations

import functools
import warnings
from typing import Callable

from kedro.pipeline import Pipeline

from ntk_linearity.experiment.runs import SWEEPS_NAMESPACE

# Dataset names the pipelines share (catalog entries in conf/base/catalog.yml); the synthetic data
# sets are named by the model families (ntk_linearity.experiment.families.VECTORS, IMAGES) and a
# run's files by its ledger (ntk_linearity.provenance.ledger.RUN_FILES, RUN_COMMIT, BALL_FILE), the copies
# of a group's and a sweep's committed summaries too (SUMMARIES). Reporting reads one dataset of each
# sweep, ``<sweep>.results`` (ntk_linearity.pipelines.reporting.gather).

# The sweeps' nodes are inside the namespace ``sweeps`` while their datasets keep their own dotted names
# (:func:`inside_sweeps`), on purpose; Kedro warns about such names on every `kedro run` and `kedro viz`.
warnings.filterwarnings("ignore", message="One or more dataset names contain '.' characters",
                        category=UserWarning, module="kedro.pipeline.node")


def bind(func: Callable, **settings) -> Callable:
    """``func`` with keyword ``settings`` bound (the typed, validated parameters a node receives),
    keeping its name and docstring for Kedro and kedro-viz."""
    return functools.update_wrapper(functools.partial(func, **settings), func)


def inside_sweeps(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` with its nodes in the namespace ``sweeps`` (:data:`~ntk_linearity.experiment.runs.SWEEPS_NAMESPACE`)
    and its datasets' names unchanged, so that kedro-viz's default view draws every sweep in one box."""
    return Pipeline(pipeline, namespace=SWEEPS_NAMESPACE, prefix_datasets_with_namespace=False)
