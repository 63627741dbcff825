from kedro.pipeline import Pipeline, node

from ntk_linearity.pipelines.data_generation.nodes import generate_synthetic_data


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                generate_synthetic_data,
                inputs="params:data",
                outputs="synthetic_data",
                name="generate_synthetic_data",
            )
        ]
    )
