"""One modular pipeline per sweep, built from its YAML block.

``<sweep>`` holds one group per run, ``<sweep>.<run>``, with the chain
initialise_parameters -> train_network -> analyse_hessian -> summarise_run and the run's datasets
(dataset factories in ``conf/base/catalog.yml``); a run's only output to its sweep is its
``run_summary``. The node ``<sweep>.collect_runs`` gathers the summaries into the
sweep's outputs ``<sweep>.runs_table`` and ``<sweep>.training_curves``; ``<sweep>.fit_scaling`` fits
every quantity of every group against the sweep's ``fit_against`` axis (``<sweep>.scaling``) and
``<sweep>.plot_scaling`` draws them (``<sweep>.scaling_figure``); a sweep with an ``eta_lambda0`` axis
also draws ``<sweep>.catapult_figure`` and ``<sweep>.catapult_dynamics_figure``. Where the sweep's ``ball:`` block
switches on the ball analysis of Proposition 2.2, its runs get an ``analyse_ball`` node before
``summarise_run`` (``<sweep>.<run>.ball_metrics``, digested by the commit record), and the sweep
``<sweep>.collect_ball`` (``<sweep>.ball_table``, one row per measured point) and ``<sweep>.fit_ball``
(``<sweep>.ball_scaling``: sup ||H|| in the ball against the fit axis). The registered pipeline of a sweep
is :func:`runs_pipeline` plus :func:`gather_pipeline`. The sweep's only input is its family's
dataset (``synthetic_data`` for ``mlp``, ``synthetic_images`` for ``cnn`` and ``resnet``:
:attr:`~ntk_linearity.experiment.SweepSpec.dataset`); reporting reads only the sweep-level tables,
so kedro-viz draws a collapsed sweep as one box however many runs it has.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from ntk_linearity.experiment import ETA_LAMBDA0, RunSpec, SweepSpec
from ntk_linearity.pipelines import BALL_FILE, RUN_COMMIT, bind, run_files
from ntk_linearity.pipelines.reporting.figures import catapult_dynamics, catapult_figure, sweep_figure
from ntk_linearity.pipelines.reporting.tables import ball_scaling, sweep_scaling
from ntk_linearity.pipelines.sweep.nodes import (
    analyse_ball,
    analyse_hessian,
    collect_ball,
    collect_sweep,
    initialise_parameters,
    summarise_run,
    train_network,
)


def run_pipeline(run: RunSpec, data_settings: dict) -> Pipeline:
    """The chain of one run, in the namespace ``<run>`` (relative to its sweep), on its family's data
    (``data_settings``: the settings of that data)."""
    data = run.dataset
    ball = [node(bind(analyse_ball, run=run), ["initial_params", "final_params", "training_metrics", data],
                 BALL_FILE, name="analyse_ball")] if run.ball is not None else []
    chain = Pipeline([
        node(bind(initialise_parameters, run=run, data_settings=data_settings), data, "initial_params",
             name="initialise_parameters"),
        node(bind(train_network, run=run), ["initial_params", data],
             ["final_params", "training_history", "training_metrics"], name="train_network"),
        node(bind(analyse_hessian, run=run), ["initial_params", "final_params", data],
             "hessian_metrics", name="analyse_hessian"),
        *ball,
        node(bind(summarise_run, run=run, data_settings=data_settings),
             {name: name for name in run_files(run)} | {"data": data}, RUN_COMMIT, name="summarise_run"),
    ])
    return Pipeline(chain, inputs={data}, namespace=run.name)


def runs_pipeline(sweep: SweepSpec, data_settings: dict[str, dict]) -> Pipeline:
    """Every run of ``sweep``, in the namespace ``<sweep>`` (``data_settings``: the settings of every
    dataset, by name)."""
    runs = sum((run_pipeline(run, data_settings[sweep.dataset]) for run in sweep.runs), Pipeline([]))
    return Pipeline(runs, inputs={sweep.dataset}, namespace=sweep.name)


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
