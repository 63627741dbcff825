"""Kedro glue: data generation, one modular pipeline per sweep, reporting."""

from __future__ import annotations

import functools
from typing import Callable

# Dataset names the pipelines share (catalog entries in conf/base/catalog.yml); the synthetic data
# sets are named by the model families (ntk_linearity.experiment.families.VECTORS, IMAGES).
RUN_FILES = ("initial_params", "final_params", "training_history", "training_metrics", "hessian_metrics")
RUN_COMMIT = "run_summary"  # a run's last output: commits the run (ntk_linearity.provenance.ledger)
SWEEP_OUTPUTS = ("runs_table", "training_curves", "scaling")  # what reporting reads of a sweep
BALL_FILE = "ball_metrics"  # a run's ball analysis (Proposition 2.2), where its sweep switches it on
BALL_OUTPUTS = ("ball_table", "ball_scaling")  # what reporting reads of a sweep with ball runs


def run_files(run) -> tuple[str, ...]:
    """The files of a run that its commit record digests: :data:`RUN_FILES`, and its ball analysis
    when it has one."""
    return (*RUN_FILES, BALL_FILE) if run.ball is not None else RUN_FILES


def bind(func: Callable, **settings) -> Callable:
    """``func`` with keyword ``settings`` bound (the typed, validated parameters a node receives),
    keeping its name and docstring for Kedro and kedro-viz."""
    return functools.update_wrapper(functools.partial(func, **settings), func)
