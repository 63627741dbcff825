"""Initial parameters w_0 of every run (NTK initialisation, Section 3.2)."""

from __future__ import annotations

import jax
import numpy as np

from ntk_linearity.pipelines.common import build_model
from ntk_linearity.pipelines.sweep import RunSpec


def initialise_parameters(data: dict, model_params: dict, *, run: RunSpec) -> dict[str, np.ndarray]:
    """w_0 drawn from the run's seed: the same seed always gives the same weights."""
    model = build_model(run, model_params, data)
    params = model.init(jax.random.key(run.seed))
    return {name: np.asarray(value) for name, value in params.items()}
