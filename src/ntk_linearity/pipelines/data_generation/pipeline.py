from kedro.pipeline import Pipeline, node

from ntk_linearity.experiment.families import IMAGES, VECTORS
from ntk_linearity.pipelines.data_generation.nodes import generate_synthetic_data, generate_synthetic_images
from ntk_linearity.pipelines import bind


def create_pipeline(data_params, image_params) -> Pipeline:
    """The shared data the sweeps train on, in the modular pipeline ``data_generation``: vectors on the
    sphere (``synthetic_data``, the ``mlp`` family) and smooth random images (``synthetic_images``,
    the ``cnn`` and ``resnet`` families)."""
    return Pipeline(
        [node(bind(generate_synthetic_data, data_params=data_params), None, VECTORS,
              name="generate_synthetic_data"),
         node(bind(generate_synthetic_images, image_params=image_params), None, IMAGES,
              name="generate_synthetic_images")],
        outputs={VECTORS, IMAGES},
        namespace="data_generation",
    )
