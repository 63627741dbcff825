"""The gathering stage of each sweep, in the sweep's namespace: one node, one dataset for reporting.

``sweeps.<sweep>.gather_results`` reads the copy of the runs' committed summaries that the sweep made,
``<sweep>.summaries`` (:mod:`ntk_linearity.pipelines.sweep.pipeline`), and returns the sweep's results,
``<sweep>.results`` (a bundle, ``BundleDataset`` in the catalog): the runs table and the training
curves (``runs.csv``, ``training_curves.csv``), every quantity of every group fitted against the
sweep's ``fit_against`` axis (``scaling.csv``) and drawn (``scaling.png``); a sweep with an
``eta_lambda0`` axis adds ``catapult_figure`` and ``catapult_dynamics_figure``, a sweep with ball runs
``ball_table`` and ``ball_scaling``. Reporting reads only these bundles, so kedro-viz draws one dataset
between a sweep and reporting. The node only reads persisted results, so both the sweep's registered
pipeline and ``reporting`` include it; ``reporting`` reads one dataset per sweep, ``<sweep>.summaries``.
"""

from __future__ import annotations

from typing import Any

from kedro.pipeline import Pipeline, node

from ntk_linearity.experiment.sweeps import ETA_LAMBDA0, SweepSpec
from ntk_linearity.pipelines import bind, inside_sweeps
from ntk_linearity.provenance.ledger import SUMMARIES
from ntk_linearity.pipelines.reporting.figures.step_size import catapult_dynamics, catapult_figure
from ntk_linearity.pipelines.reporting.figures.sweeps import sweep_figure
from ntk_linearity.pipelines.reporting.tables import (ball_scaling, collect_runs, concat_ball, concat_scaling,
                                                   sweep_scaling)
from ntk_linearity.pipelines.sweep.collect import collect_ball, collect_sweep

RESULTS = "results"  # the one dataset a sweep hands to reporting: <sweep>.results


def gather_sweep(summaries: dict[str, dict], *, sweep: SweepSpec, reporting_params,
                 data_settings: dict) -> dict[str, Any]:
    """The sweep's results from its runs' summaries (by run namespace; a run without one is refused
    by :func:`~ntk_linearity.pipelines.sweep.collect.collect_sweep`): tables, fits and figures under
    the entry names of ``<sweep>.results``."""
    about = {"sweep": sweep.name, "fit_against": sweep.fit_against}
    runs, curves = collect_sweep(*(summaries.get(run.namespace) for run in sweep.runs), runs=sweep.runs,
                                 data_settings=data_settings)
    scaling = sweep_scaling(runs, **about, reporting_params=reporting_params)
    results = {"runs_table": runs, "training_curves": curves, "scaling": scaling,
               "scaling_figure": sweep_figure(runs, scaling, **about, group_by=sweep.group_by)}
    if ETA_LAMBDA0 in dict(sweep.axes):
        results["catapult_figure"] = catapult_figure(runs, scaling, **about)
        results["catapult_dynamics_figure"] = catapult_dynamics(runs, curves, **about)
    if sweep.ball_runs:
        ball = collect_ball(*(summaries.get(run.namespace) for run in sweep.ball_runs), runs=sweep.ball_runs,
                            data_settings=data_settings)
        results["ball_table"] = ball
        results["ball_scaling"] = ball_scaling(ball, **about, reporting_params=reporting_params)
    return results


def gather_pipeline(sweep: SweepSpec, reporting_params, data_settings: dict[str, dict]) -> Pipeline:
    """The sweep's own node, in the namespace ``<sweep>``: gather the runs' persisted summaries
    (``<sweep>.summaries``) into the sweep's tables, fits and figures, ``<sweep>.results``. It only
    reads persisted results, so the ``reporting`` pipeline includes it too. Its node, like the runs', is
    inside ``sweeps`` (:func:`~ntk_linearity.pipelines.inside_sweeps`): ``sweeps.<sweep>.gather_results``."""
    return inside_sweeps(Pipeline([
        node(bind(gather_sweep, sweep=sweep, reporting_params=reporting_params,
                  data_settings=data_settings[sweep.dataset]), SUMMARIES, RESULTS, name="gather_results"),
    ], namespace=sweep.name))


def collect_results(*bundles: dict[str, Any], expected: tuple[str, ...]):
    """Every sweep's runs table and curves from their results (:func:`.tables.collect_runs`)."""
    return collect_runs(*(b["runs_table"] for b in bundles), *(b["training_curves"] for b in bundles),
                        expected=expected)


def collect_scaling(*bundles: dict[str, Any], ball: tuple[bool, ...]):
    """Every sweep's scaling rows, then the ball fits of the sweeps whose ``ball`` flag is set (in the
    order of ``bundles``), in one long table."""
    return concat_scaling(*(b["scaling"] for b in bundles),
                          *(b["ball_scaling"] for b, has_ball in zip(bundles, ball) if has_ball))


def collect_ball_tables(*bundles: dict[str, Any]):
    """The ball tables of the sweeps with ball runs (their results), in one long table."""
    return concat_ball(*(b["ball_table"] for b in bundles))
