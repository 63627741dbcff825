"""Synthetic data (documented in :mod:`ntk_linearity.numerics.data`)."""

from __future__ import annotations

import numpy as np

from ntk_linearity.experiment.families import IMAGES
from ntk_linearity.provenance.ledger import stamp_data
from ntk_linearity.numerics import synthetic_dataset, synthetic_images


def generate_synthetic_data(*, data_params) -> dict[str, np.ndarray]:
    """Inputs on the sphere of radius sqrt(d), regression targets and soft class labels, from the
    validated ``data`` parameter group, stamped with those settings (checked by every run)."""
    data = synthetic_dataset(
        seed=data_params.seed,
        n_samples=data_params.n_samples,
        input_dim=data_params.input_dim,
        amplitude=data_params.target_amplitude,
        frequency=data_params.target_frequency,
        n_classes=data_params.n_classes,
        temperature=data_params.class_temperature,
    )
    return stamp_data({name: np.asarray(value) for name, value in data.items()}, data_params.model_dump())


def generate_synthetic_images(*, image_params) -> dict[str, np.ndarray]:
    """Smooth random images with regression targets and soft class labels, from the validated
    ``images`` parameter group, stamped with those settings.

    The images are stored flattened, ``X`` of shape ``(n, H*W*C)`` (row-major, so
    ``X.reshape(n, H, W, C)`` gives them back), with ``image_shape = [H, W, C]``: every node treats
    inputs as vectors, as for ``synthetic_data``, and the convolutional models reshape them
    (:mod:`ntk_linearity.numerics.conv`)."""
    shape = (image_params.height, image_params.width, image_params.channels)
    data = synthetic_images(
        seed=image_params.seed,
        n_samples=image_params.n_samples,
        height=shape[0],
        width=shape[1],
        channels=shape[2],
        amplitude=image_params.target_amplitude,
        frequency=image_params.target_frequency,
        n_classes=image_params.n_classes,
        temperature=image_params.class_temperature,
        smoothness=image_params.smoothness,
    )
    arrays = {name: np.asarray(value) for name, value in data.items()}
    arrays["X"] = arrays["X"].reshape(image_params.n_samples, -1)
    return stamp_data(arrays | {"image_shape": np.asarray(shape, np.int64)}, image_params.model_dump())


def data_shapes(dataset: str, parameters) -> dict[str, np.ndarray]:
    """Stand-ins for the arrays of the synthetic dataset named ``dataset`` (``synthetic_data`` or
    ``synthetic_images``) of the validated ``parameters``: arrays of the shapes and dtype its node
    makes (``X``, ``y``, ``y_class``; ``image_shape`` for images), read-only views of one zero, so
    that a network can be built and its memory estimated before any node runs without generating
    or allocating the data (:mod:`ntk_linearity.provenance.resources`)."""
    group = parameters.images if dataset == IMAGES else parameters.data
    n = group.n_samples
    dim = group.height * group.width * group.channels if dataset == IMAGES else group.input_dim
    zero = np.zeros((), np.float32)
    arrays = {"X": np.broadcast_to(zero, (n, dim)), "y": np.broadcast_to(zero, (n,)),
              "y_class": np.broadcast_to(zero, (n, group.n_classes))}
    if dataset == IMAGES:
        arrays["image_shape"] = np.asarray((group.height, group.width, group.channels), np.int64)
    return arrays
