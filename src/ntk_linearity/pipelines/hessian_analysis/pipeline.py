from kedro.pipeline import Pipeline, node

from ntk_linearity.pipelines.hessian_analysis.nodes import analyse_hessian
from ntk_linearity.pipelines.sweep import RunSpec, bind_run, namespaced


def run_pipeline(run: RunSpec) -> Pipeline:
    return Pipeline(
        [
            node(
                bind_run(analyse_hessian, run),
                inputs=["initial_params", "final_params", "synthetic_data", "params:model", "params:hessian"],
                outputs="hessian_metrics",
                name="analyse_hessian",
            )
        ]
    )


def create_pipeline(runs: list[RunSpec], **kwargs) -> Pipeline:
    return namespaced(
        run_pipeline, runs, shared={"synthetic_data", "params:model", "params:hessian"}
    )
