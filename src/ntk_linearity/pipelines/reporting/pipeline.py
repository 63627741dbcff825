"""Reporting: every sweep's tables in one place, Table 1, the paper's figures and the report.

The pipeline is the modular pipeline ``reporting``; it reads only the sweeps' own outputs
(``<sweep>.runs_table``, ``<sweep>.training_curves``, ``<sweep>.scaling``) and writes the persisted,
versioned results under their catalog names (``runs_table``, ``table1_scaling``, ``report_html``...).
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from ntk_linearity.pipelines.reporting import figures, report, tables
from ntk_linearity.pipelines import SWEEP_OUTPUTS, bind
from ntk_linearity.pipelines.validation import Experiment

OUTPUTS = ("runs_table", "training_curves", "table1_scaling", "scaling_table", "table1_markdown",
           "fig1_delta_k_vs_width", "fig1_delta_k_vs_time", "fig2_delta_k_vs_bottleneck",
           "hessian_scaling_figure", "weight_change_figure", "loss_curves_figure", "parameterization_figure",
           "output_scaling_figure", "report_html")


def sweeps_with_axis(experiment: Experiment, axis: str) -> tuple[str, ...]:
    """The sweeps that vary ``axis`` (``parameterization``: Appendix B; ``output_scale``: Appendix A)."""
    return tuple(sweep.name for sweep in experiment.sweeps if axis in dict(sweep.axes))


def create_pipeline(experiment: Experiment) -> Pipeline:
    names = [sweep.name for sweep in experiment.sweeps]
    reporting_params = experiment.parameters.reporting
    curve_width = reporting_params.time_curve_width
    nodes = [
        node(bind(tables.collect_runs, expected=tuple(run.namespace for run in experiment.runs)),
             [f"{s}.runs_table" for s in names] + [f"{s}.training_curves" for s in names],
             ["runs_table", "training_curves"], name="collect_runs"),
        node(tables.concat_scaling, [f"{s}.scaling" for s in names], "scaling_table", name="collect_scaling"),
        node(bind(tables.scaling_table, reporting_params=reporting_params), "runs_table", "table1_scaling",
             name="fit_scaling_exponents"),
        node(bind(tables.table1_markdown, reporting_params=reporting_params),
             ["table1_scaling", "scaling_table", "runs_table"], "table1_markdown", name="render_table1"),
        node(figures.delta_k_vs_width, ["runs_table", "table1_scaling"], "fig1_delta_k_vs_width",
             name="plot_delta_k_vs_width"),
        node(bind(figures.delta_k_vs_time, time_curve_width=curve_width), "training_curves",
             "fig1_delta_k_vs_time", name="plot_delta_k_vs_time"),
        node(figures.delta_k_vs_bottleneck, ["runs_table", "table1_scaling"],
             "fig2_delta_k_vs_bottleneck", name="plot_delta_k_vs_bottleneck"),
        node(figures.hessian_scaling, ["runs_table", "table1_scaling"], "hessian_scaling_figure",
             name="plot_hessian_scaling"),
        node(figures.weight_change_norms, ["runs_table", "table1_scaling"], "weight_change_figure",
             name="plot_weight_change_norms"),
        node(bind(figures.loss_curves, time_curve_width=curve_width), "training_curves",
             "loss_curves_figure", name="plot_loss_curves"),
        node(bind(figures.parameterization_figure, sweeps=sweeps_with_axis(experiment, "parameterization")),
             ["runs_table", "scaling_table"], "parameterization_figure", name="plot_parameterization"),
        node(bind(figures.output_scaling_figure, sweeps=sweeps_with_axis(experiment, "output_scale")),
             ["runs_table", "scaling_table", "table1_scaling"], "output_scaling_figure",
             name="plot_output_scaling"),
        # The papermill report (notebooks/report.ipynb) on the persisted tables: it redraws the
        # figures with the functions above and never retrains.
        node(bind(report.render_report, experiment=experiment),
             {"runs": "runs_table", "table1_scaling": "table1_scaling", "scaling": "scaling_table",
              "curves": "training_curves", "table1": "table1_markdown"},
             "report_html", name="render_report"),
    ]
    inputs = {f"{s}.{name}" for s in names for name in SWEEP_OUTPUTS}
    return Pipeline(nodes, inputs=inputs, outputs=set(OUTPUTS), namespace="reporting")
