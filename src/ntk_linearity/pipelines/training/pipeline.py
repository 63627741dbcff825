from kedro.pipeline import Pipeline, node

from ntk_linearity.pipelines.sweep import RunSpec, bind_run, namespaced
from ntk_linearity.pipelines.training.nodes import train_network


def run_pipeline(run: RunSpec) -> Pipeline:
    return Pipeline(
        [
            node(
                bind_run(train_network, run),
                inputs=["initial_params", "synthetic_data", "params:model", "params:training"],
                outputs=["final_params", "training_history", "training_metrics"],
                name="train_network",
            )
        ]
    )


def create_pipeline(runs: list[RunSpec], **kwargs) -> Pipeline:
    return namespaced(
        run_pipeline, runs, shared={"synthetic_data", "params:model", "params:training"}
    )
