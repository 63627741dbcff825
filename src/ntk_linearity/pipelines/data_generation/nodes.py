"""Synthetic data (documented in :mod:`ntk_linearity.numerics.data`)."""

from __future__ import annotations

import numpy as np

from ntk_linearity.ledger import stamp_data
from ntk_linearity.numerics import synthetic_dataset


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
