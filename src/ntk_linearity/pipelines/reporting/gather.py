"""The gathering stage of each sweep, in the sweep's namespace: its tables, fits and figures.

``<sweep>.collect_runs`` gathers the runs' committed summaries into ``<sweep>.runs_table`` and
``<sweep>.training_curves``; ``<sweep>.fit_scaling`` fits every quantity of every group against the
sweep's ``fit_against`` axis (``<sweep>.scaling``) and ``<sweep>.plot_scaling`` draws them
(``<sweep>.scaling_figure``); a sweep with an ``eta_lambda0`` axis also draws
``<sweep>.catapult_figure`` and ``<sweep>.catapult_dynamics_figure``; a sweep with ball runs gets
``<sweep>.collect_ball`` and ``<sweep>.fit_ball``. These nodes only read persisted results, so both
the sweep's registered pipeline and ``reporting`` include them.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from ntk_linearity.experiment.sweeps import ETA_LAMBDA0, SweepSpec
from ntk_linearity.pipelines import bind
from ntk_linearity.provenance.ledger import RUN_COMMIT
from ntk_linearity.pipelines.reporting.figures.step_size import catapult_dynamics, catapult_figure
from ntk_linearity.pipelines.reporting.figures.sweeps import sweep_figure
from ntk_linearity.pipelines.reporting.tables import ball_scaling, sweep_scaling
from ntk_linearity.pipelines.sweep.collect import collect_ball, collect_sweep


def gather_pipeline(sweep: SweepSpec, reporting_params, data_settings: dict[str, dict]) -> Pipeline:
    """The sweep's own nodes, in the namespace ``<sweep>``: gather the runs' persisted results into
    the sweep's tables, fit its scaling exponents, draw its figure. They only read persisted
    results, so the ``reporting`` pipeline includes them too."""
    results = [f"{run.name}.{RUN_COMMIT}" for run in sweep.runs]
    about = {"sweep": sweep.name, "fit_against": sweep.fit_against}
    step_size_figures = [
        node(bind(catapult_figure, **about), ["runs_table", "scaling"], "catapult_figure", name="plot_catapult"),
        node(bind(catapult_dynamics, **about), ["runs_table", "training_curves"], "catapult_dynamics_figure",
             name="plot_catapult_dynamics"),
    ] if ETA_LAMBDA0 in dict(sweep.axes) else []
    ball = [
        node(bind(collect_ball, runs=sweep.ball_runs, data_settings=data_settings[sweep.dataset]),
             [f"{run.name}.{RUN_COMMIT}" for run in sweep.ball_runs], "ball_table", name="collect_ball"),
        node(bind(ball_scaling, **about, reporting_params=reporting_params), "ball_table", "ball_scaling",
             name="fit_ball"),
    ] if sweep.ball_runs else []
    return Pipeline([
        *ball,
        node(bind(collect_sweep, runs=sweep.runs, data_settings=data_settings[sweep.dataset]), results, ["runs_table", "training_curves"], name="collect_runs"),
        node(bind(sweep_scaling, **about, reporting_params=reporting_params), "runs_table", "scaling",
             name="fit_scaling"),
        node(bind(sweep_figure, **about, group_by=sweep.group_by), ["runs_table", "scaling"],
             "scaling_figure", name="plot_scaling"),
        *step_size_figures,
    ], namespace=sweep.name)
