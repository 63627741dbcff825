from kedro.pipeline import Pipeline, node

from ntk_linearity.experiment.families import DIGITS, IMAGES, VECTORS
from ntk_linearity.pipelines.data_generation.nodes import generate_synthetic_data, generate_synthetic_images, load_digits
from ntk_linearity.pipelines import bind


def create_pipeline(data_params, image_params, digits_params) -> Pipeline:
    """The shared data the sweeps train on, in the modular pipeline ``data_generation``: vectors on the
    sphere (``synthetic_data``, the ``mlp`` family) and smooth random images (``synthetic_images``,
    the ``cnn`` and ``resnet`` families) of the ``synthetic`` source, and scikit-learn's digits
    (``digits``, every family) of the ``digits`` source."""
    return Pipeline(
        [node(bind(generate_synthetic_data, data_params=data_params), None, VECTORS,
              name="generate_synthetic_data"),
         node(bind(generate_synthetic_images, image_params=image_params), None, IMAGES,
              name="generate_synthetic_images"),
         node(bind(load_digits, digits_params=digits_params), None, DIGITS, name="load_digits")],
        outputs={VECTORS, IMAGES, DIGITS},
        namespace="data_generation",
    )
