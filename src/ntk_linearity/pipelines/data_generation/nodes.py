"""Synthetic data (documented in :mod:`ntk_linearity.numerics.data`)."""

from __future__ import annotations

import numpy as np

from ntk_linearity.numerics import synthetic_dataset


def generate_synthetic_data(*, data_params) -> dict[str, np.ndarray]:
    """Inputs on the sphere of radius sqrt(d), regression targets and soft class labels, from the
    validated ``data`` parameter group."""
    data = synthetic_dataset(
        seed=data_params.seed,
        n_samples=data_params.n_samples,
        input_dim=data_params.input_dim,
        amplitude=data_params.target_amplitude,
        frequency=data_params.target_frequency,
        n_classes=data_params.n_classes,
        temperature=data_params.class_temperature,
    )
    return {name: np.asarray(value) for name, value in data.items()}
