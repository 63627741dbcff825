from kedro.pipeline import Pipeline, node

from ntk_linearity.pipelines.reporting import figures, report, tables
from ntk_linearity.pipelines.sweep import RunSpec


def create_pipeline(runs: list[RunSpec], **kwargs) -> Pipeline:
    metrics = [f"{run.namespace}.{name}" for run in runs for name in ("training_metrics", "hessian_metrics")]
    return Pipeline(
        [
            node(tables.collect_runs, metrics, ["runs_table", "training_curves"], name="collect_runs"),
            node(tables.scaling_table, ["runs_table", "params:reporting"], "table1_scaling",
                 name="fit_scaling_exponents"),
            node(tables.table1_markdown, ["table1_scaling", "runs_table", "params:reporting"],
                 "table1_markdown", name="render_table1"),
            node(figures.delta_k_vs_width, ["runs_table", "table1_scaling"], "fig1_delta_k_vs_width",
                 name="plot_delta_k_vs_width"),
            node(figures.delta_k_vs_time, ["training_curves", "params:reporting.time_curve_width"],
                 "fig1_delta_k_vs_time", name="plot_delta_k_vs_time"),
            node(figures.delta_k_vs_bottleneck, ["runs_table", "table1_scaling"],
                 "fig2_delta_k_vs_bottleneck", name="plot_delta_k_vs_bottleneck"),
            node(figures.hessian_scaling, ["runs_table", "table1_scaling"], "hessian_scaling_figure",
                 name="plot_hessian_scaling"),
            node(figures.weight_change_norms, ["runs_table", "table1_scaling"], "weight_change_figure",
                 name="plot_weight_change_norms"),
            node(figures.loss_curves, ["training_curves", "params:reporting.time_curve_width"],
                 "loss_curves_figure", name="plot_loss_curves"),
            # The papermill report (notebooks/report.ipynb) on the persisted tables: it redraws the
            # figures with the functions above and never retrains.
            node(report.render_report,
                 {"runs": "runs_table", "scaling": "table1_scaling", "curves": "training_curves",
                  "table1": "table1_markdown", "data_params": "params:data", "model_params": "params:model",
                  "sweeps": "params:sweeps", "training_params": "params:training",
                  "hessian_params": "params:hessian", "reporting_params": "params:reporting"},
                 "report_html", name="render_report"),
        ]
    )
