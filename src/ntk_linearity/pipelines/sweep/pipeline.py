"""The runs of one sweep, built from its YAML block.

``<sweep>`` holds one group per run, ``<sweep>.<run>``, with the chain
initialise_parameters -> train_network -> analyse_hessian -> summarise_run and the run's datasets
(dataset factories in ``conf/base/catalog.yml``); a run's only output to its sweep is its
``run_summary``. Where the sweep's ``ball:`` block switches on the ball analysis of Proposition 2.2,
its runs get an ``analyse_ball`` node before ``summarise_run`` (``<sweep>.<run>.ball_metrics``,
digested by the commit record). The sweep's only input is its family's dataset
(:attr:`~ntk_linearity.experiment.sweeps.SweepSpec.dataset`). The registered pipeline of a sweep is
:func:`runs_pipeline` plus the sweep's gathering stage
(:func:`ntk_linearity.pipelines.reporting.gather.gather_pipeline`), which reads only the runs'
summaries, so kedro-viz draws a collapsed sweep as one box however many runs it has.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from ntk_linearity.experiment.sweeps import RunSpec, SweepSpec
from ntk_linearity.pipelines import bind
from ntk_linearity.provenance.ledger import BALL_FILE, RUN_COMMIT, run_files
from ntk_linearity.pipelines.sweep.collect import summarise_run
from ntk_linearity.pipelines.sweep.nodes import analyse_ball, analyse_hessian, initialise_parameters, train_network


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
