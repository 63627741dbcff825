"""The data the sweeps train on: synthetic (documented in :mod:`ntk_linearity.numerics.data`) and
scikit-learn's digits (:mod:`ntk_linearity.numerics.digits`)."""

from __future__ import annotations

import numpy as np

from ntk_linearity.experiment.families import DATA_GROUPS, DIGITS, IMAGES
from ntk_linearity.provenance.ledger import stamp_data
from ntk_linearity.numerics import synthetic_dataset, synthetic_images
from ntk_linearity.numerics.digits import DIGITS_SHAPE, digits_dataset


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


def load_digits(*, digits_params) -> dict[str, np.ndarray]:
    """scikit-learn's digits, read from the copy inside its wheel (no download), subset, preprocessed
    and labelled by the validated ``digits`` parameter group, stamped with those settings (scikit-learn's
    version and the digest of the chosen indices included)."""
    from sklearn.datasets import load_digits as read  # noqa: PLC0415 (only this node needs scikit-learn)

    digits = read()
    data = digits_dataset(digits.data, digits.target, seed=digits_params.seed, n_samples=digits_params.n_samples,
                          preprocessing=digits_params.preprocessing, label_smoothing=digits_params.label_smoothing)
    return stamp_data(data, digits_params.model_dump())


def data_shapes(dataset: str, parameters) -> dict[str, np.ndarray]:
    """Stand-ins for the arrays of the dataset named ``dataset`` (``synthetic_data``,
    ``synthetic_images`` or ``digits``) of the validated ``parameters``: arrays of the shapes and dtype
    its node makes (``X``, ``y``, ``y_class``; ``image_shape`` for images), read-only views of one zero,
    so that a network can be built and its memory estimated before any node runs without generating
    or allocating the data (:mod:`ntk_linearity.provenance.resources`)."""
    group = getattr(parameters, DATA_GROUPS[dataset])
    n = group.n_samples
    image = (group.height, group.width, group.channels) if dataset == IMAGES else DIGITS_SHAPE if dataset == DIGITS else None
    dim = int(np.prod(image)) if image else group.input_dim
    zero = np.zeros((), np.float32)
    arrays = {"X": np.broadcast_to(zero, (n, dim)),
              "y": np.broadcast_to(zero, (n, group.n_classes) if dataset == DIGITS else (n,)),
              "y_class": np.broadcast_to(zero, (n, group.n_classes))}
    if image:
        arrays["image_shape"] = np.asarray(image, np.int64)
    return arrays
