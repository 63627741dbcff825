"""Reporting: every sweep's tables in one place, Table 1, the paper's figures and the report.

The pipeline is the modular pipeline ``reporting``; it reads only the sweeps' results, one bundle per
sweep (``<sweep>.results``: runs table, curves, fits, figures), and writes the persisted, versioned
results under their catalog names (``runs_table``, ``table1_scaling``, ``report_html``...). The report
reads every table and figure, so kedro-viz draws only the report below the reporting box.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from ntk_linearity.pipelines.reporting import gather, report, tables
from ntk_linearity.pipelines.reporting.figures import appendices, ball, paper, step_size
from ntk_linearity.pipelines import bind
from ntk_linearity.experiment.parameters import Experiment
from ntk_linearity.experiment.vocabulary import FIG1_ARCHITECTURES

FIGURES = ("fig1_delta_k_vs_width", "fig1_delta_k_vs_time", "fig2_delta_k_vs_bottleneck",
           "hessian_scaling_figure", "weight_change_figure", "loss_curves_figure", "ball_hessian_figure",
           "ball_bound_figure", "parameterization_figure", "output_scaling_figure")
OUTPUTS = ("runs_table", "training_curves", "table1_scaling", "scaling_table", "table1_markdown", "ball_table",
           *FIGURES, "report_html")


def width_sweep(experiment: Experiment):
    """The sweep that trains the one-hidden-layer networks of Fig. 1 (the paper's width sweep), or
    ``None``."""
    return next((s for s in experiment.sweeps if set(s.architectures) & set(FIG1_ARCHITECTURES)), None)


def sweeps_with_axis(experiment: Experiment, axis: str) -> tuple[str, ...]:
    """The sweeps that vary ``axis`` (``parameterization``: Appendix B; ``output_scale``: Appendix A)."""
    return tuple(sweep.name for sweep in experiment.sweeps if axis in dict(sweep.axes))


def create_pipeline(experiment: Experiment) -> Pipeline:
    names = [sweep.name for sweep in experiment.sweeps]
    fig1 = width_sweep(experiment)
    # Theorem 5.1's rate along the path, drawn for the width sweep (every run has the columns).
    rate = [node(bind(step_size.convergence_rate, sweep=fig1.name, fit_against=fig1.fit_against,
                      group_by=fig1.group_by), "runs_table", "convergence_rate_figure",
                 name="plot_convergence_rate")] if fig1 else []
    balls = [sweep.name for sweep in experiment.sweeps if sweep.ball_runs]  # sweeps with ball runs
    reporting_params = experiment.parameters.reporting
    curve_width = reporting_params.time_curve_width
    results = [f"{s}.{gather.RESULTS}" for s in names]  # what each sweep hands over: one bundle
    nodes = [
        node(bind(gather.collect_results, expected=tuple(run.namespace for run in experiment.runs)),
             results, ["runs_table", "training_curves"], name="collect_runs"),
        node(bind(gather.collect_scaling, ball=tuple(s in balls for s in names)), results, "scaling_table",
             name="collect_scaling"),
        node(gather.collect_ball_tables, [f"{s}.{gather.RESULTS}" for s in balls], "ball_table", name="collect_ball"),
        node(ball.ball_hessian, ["ball_table", "scaling_table"], "ball_hessian_figure", name="plot_ball_hessian"),
        node(ball.ball_bound, "ball_table", "ball_bound_figure", name="plot_ball_bound"),
        node(bind(tables.scaling_table, reporting_params=reporting_params), "runs_table", "table1_scaling",
             name="fit_scaling_exponents"),
        node(bind(tables.table1_markdown, reporting_params=reporting_params),
             ["table1_scaling", "scaling_table", "runs_table"], "table1_markdown", name="render_table1"),
        node(paper.delta_k_vs_width, ["runs_table", "table1_scaling"], "fig1_delta_k_vs_width",
             name="plot_delta_k_vs_width"),
        node(bind(paper.delta_k_vs_time, time_curve_width=curve_width), "training_curves",
             "fig1_delta_k_vs_time", name="plot_delta_k_vs_time"),
        node(paper.delta_k_vs_bottleneck, ["runs_table", "table1_scaling"],
             "fig2_delta_k_vs_bottleneck", name="plot_delta_k_vs_bottleneck"),
        node(paper.hessian_scaling, ["runs_table", "table1_scaling"], "hessian_scaling_figure",
             name="plot_hessian_scaling"),
        node(paper.weight_change_norms, ["runs_table", "table1_scaling"], "weight_change_figure",
             name="plot_weight_change_norms"),
        node(bind(paper.loss_curves, time_curve_width=curve_width), "training_curves",
             "loss_curves_figure", name="plot_loss_curves"),
        *rate,
        node(bind(appendices.parameterization_figure, sweeps=sweeps_with_axis(experiment, "parameterization")),
             ["runs_table", "scaling_table"], "parameterization_figure", name="plot_parameterization"),
        node(bind(appendices.output_scaling_figure, sweeps=sweeps_with_axis(experiment, "output_scale")),
             ["runs_table", "scaling_table", "table1_scaling"], "output_scaling_figure",
             name="plot_output_scaling"),
        # The papermill report (notebooks/report.ipynb) on the persisted tables: it redraws the
        # figures with the functions above and never retrains. It reads every table and figure of
        # reporting, so it runs after them and kedro-viz draws them inside reporting.
        node(bind(report.render_report, experiment=experiment),
             {"runs": "runs_table", "table1_scaling": "table1_scaling", "scaling": "scaling_table",
              "curves": "training_curves", "table1": "table1_markdown", "ball": "ball_table",
              **{figure: figure for figure in FIGURES + (("convergence_rate_figure",) if rate else ())}},
             "report_html", name="render_report"),
    ]
    outputs = set(OUTPUTS) | ({"convergence_rate_figure"} if rate else set())
    return Pipeline(nodes, inputs=set(results), outputs=outputs, namespace="reporting")
