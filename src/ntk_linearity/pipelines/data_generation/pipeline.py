from kedro.pipeline import Pipeline, node

from ntk_linearity.pipelines.data_generation.nodes import generate_synthetic_data
from ntk_linearity.pipelines import bind


def create_pipeline(data_params) -> Pipeline:
    """The shared data every sweep trains on, in the modular pipeline ``data_generation``."""
    return Pipeline(
        [node(bind(generate_synthetic_data, data_params=data_params), None, "synthetic_data",
              name="generate_synthetic_data")],
        outputs={"synthetic_data"},
        namespace="data_generation",
    )
