"""Pipelines: data_generation, one per sweep (named after it), reporting, and ``__default__``.

``reporting`` includes every sweep's gathering node (``<sweep>.gather_results``, which reads the
sweep's committed run summaries, ``<sweep>.summaries``, and writes ``<sweep>.results``), so
``kedro run --pipelines reporting`` rebuilds every table, figure and the report from the persisted
per-run results without training, reading one dataset per sweep.

The sweeps come from the parameters of the active run environment (``conf/base`` by default,
``conf/paper`` with ``--env paper``). They are validated first,
once per session (:func:`ntk_linearity.experiment.parameters.session_experiment`, which the hooks
reuse): ``register_pipelines`` runs before any node, so a bad parameter stops ``kedro run`` with a
one-line error before anything is computed or written.
"""

from __future__ import annotations

import jax
from kedro.pipeline import Pipeline

from ntk_linearity.pipelines import data_generation, reporting, sweep
from ntk_linearity.experiment.parameters import session_experiment


def register_pipelines() -> dict[str, Pipeline]:
    experiment = session_experiment()
    if any(run.model.dtype == "float64" for run in experiment.runs):
        # Before any node, for `kedro run` and kedro-viz alike (viz runs no project hooks).
        jax.config.update("jax_enable_x64", True)
    data_settings = experiment.data_settings
    gathers = {spec.name: reporting.gather_pipeline(spec, experiment.parameters.reporting, data_settings)
               for spec in experiment.sweeps}
    params = experiment.parameters
    pipelines = {"data_generation": data_generation.create_pipeline(params.data, params.images, params.digits)}
    pipelines |= {spec.name: sweep.runs_pipeline(spec, data_settings) + gathers[spec.name]
                  for spec in experiment.sweeps}
    # Reporting regathers every sweep's tables from its persisted run summaries, then reports.
    pipelines["reporting"] = sum(gathers.values(), Pipeline([])) + reporting.create_pipeline(experiment)
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    return pipelines
