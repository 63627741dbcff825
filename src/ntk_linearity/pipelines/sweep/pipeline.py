"""The runs of one sweep, built from its YAML block.

``<sweep>`` holds one group per curve of the sweep (its ``group_by`` values, ``all`` without
``group_by``), ``<sweep>.<group>``, and each group one namespace per run, ``<sweep>.<group>.<run>``,
with the chain initialise_parameters -> train_network -> analyse_hessian -> summarise_run and the
run's datasets (dataset factories in ``conf/base/catalog.yml``); a run's only output to its group is
its ``run_summary``. Where the sweep's ``ball:`` block switches on the ball analysis of Proposition
2.2, its runs get an ``analyse_ball`` node before ``summarise_run`` (``ball_metrics``, digested by the
commit record). Each group copies its runs' committed summaries into one dataset
(``<sweep>.<group>.collect_summaries`` -> ``<sweep>.<group>.summaries``) and the sweep merges those
(``<sweep>.merge_summaries`` -> ``<sweep>.summaries``), so kedro-viz draws an expanded sweep as its
groups and a collapsed group as one box however many runs it has. Those are the datasets' names; the
nodes carry one more namespace, ``sweeps`` (:data:`~ntk_linearity.experiment.runs.SWEEPS_NAMESPACE`:
``sweeps.<sweep>.<group>.<run>.train_network``), so that kedro-viz's default view draws every sweep
inside one box, with only the sweeps' results beside it. The sweep's only input is its
family's dataset (:attr:`~ntk_linearity.experiment.sweeps.SweepSpec.dataset`). The registered pipeline
of a sweep is :func:`runs_pipeline` plus the sweep's gathering stage
(:func:`ntk_linearity.pipelines.reporting.gather.gather_pipeline`), which reads only
``<sweep>.summaries``.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from ntk_linearity.experiment.sweeps import RunSpec, SweepSpec
from ntk_linearity.pipelines import bind, inside_sweeps
from ntk_linearity.provenance.ledger import BALL_FILE, RUN_COMMIT, SUMMARIES, run_files
from ntk_linearity.pipelines.sweep.collect import collect_summaries, merge_summaries, summarise_run
from ntk_linearity.pipelines.sweep.nodes import analyse_ball, analyse_hessian, initialise_parameters, train_network


def run_pipeline(run: RunSpec, data_settings: dict) -> Pipeline:
    """The chain of one run, in the namespace ``<run>`` (relative to its group), on its family's data
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


def group_pipeline(runs: tuple[RunSpec, ...], data_settings: dict) -> Pipeline:
    """The runs of one group (``runs``, all of one group and one dataset) and the copy of their
    summaries, in the namespace ``<group>`` (relative to its sweep)."""
    chains = sum((run_pipeline(run, data_settings) for run in runs), Pipeline([]))
    collect = node(bind(collect_summaries, runs=runs), [f"{run.name}.{RUN_COMMIT}" for run in runs], SUMMARIES,
                   name="collect_summaries")
    return Pipeline(chains + Pipeline([collect]), inputs={runs[0].dataset}, namespace=runs[0].group)


def runs_pipeline(sweep: SweepSpec, data_settings: dict[str, dict]) -> Pipeline:
    """Every run of ``sweep`` by group, and the sweep's summaries, in the namespace ``<sweep>``, its
    nodes inside :data:`~ntk_linearity.experiment.runs.SWEEPS_NAMESPACE` (``data_settings``: the settings of
    every dataset, by name)."""
    groups = sum((group_pipeline(tuple(run for run in sweep.runs if run.group == group),
                                 data_settings[sweep.dataset]) for group in sweep.groups), Pipeline([]))
    merge = node(merge_summaries, [f"{group}.{SUMMARIES}" for group in sweep.groups], SUMMARIES,
                 name="merge_summaries")
    return inside_sweeps(Pipeline(groups + Pipeline([merge]), inputs={sweep.dataset}, namespace=sweep.name))
