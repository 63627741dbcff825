from kedro.pipeline import Pipeline, node

from ntk_linearity.pipelines.model_init.nodes import initialise_parameters
from ntk_linearity.pipelines.sweep import RunSpec, bind_run, namespaced


def run_pipeline(run: RunSpec) -> Pipeline:
    return Pipeline(
        [
            node(
                bind_run(initialise_parameters, run),
                inputs=["synthetic_data", "params:model"],
                outputs="initial_params",
                name="initialise_parameters",
            )
        ]
    )


def create_pipeline(runs: list[RunSpec], **kwargs) -> Pipeline:
    return namespaced(run_pipeline, runs, shared={"synthetic_data", "params:model"})
