"""Pipelines by stage, chained data_generation -> model_init -> training -> hessian_analysis -> reporting.

The sweep grids come from the parameters of the active run environment (``conf/base`` by default,
``conf/paper`` with ``--env paper``), so each environment has its own set of namespaced runs.
They are validated first (:mod:`ntk_linearity.pipelines.validation`): ``register_pipelines`` runs
before any node, so a bad parameter stops ``kedro run`` with a one-line error before anything is
computed or written.
"""

from __future__ import annotations

import jax
from kedro.pipeline import Pipeline

from ntk_linearity.pipelines import (
    data_generation,
    hessian_analysis,
    model_init,
    reporting,
    training,
)
from ntk_linearity.pipelines.sweep import expand_runs
from ntk_linearity.pipelines.validation import validate_parameters
from ntk_linearity.run_config import active_parameters


def register_pipelines() -> dict[str, Pipeline]:
    parameters = active_parameters()
    validate_parameters(parameters)
    if parameters["model"]["dtype"] == "float64":
        # Before any node, for `kedro run` and kedro-viz alike (viz runs no project hooks).
        jax.config.update("jax_enable_x64", True)
    runs = expand_runs(parameters["sweeps"])
    stages = {
        "data_generation": data_generation.create_pipeline(),
        "model_init": model_init.create_pipeline(runs),
        "training": training.create_pipeline(runs),
        "hessian_analysis": hessian_analysis.create_pipeline(runs),
        "reporting": reporting.create_pipeline(runs),
    }
    stages["__default__"] = sum(stages.values(), Pipeline([]))
    return stages
