"""Glue shared by the stage pipelines: building the model of a run from its parameters."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ntk_linearity.numerics import MLP, mlp
from ntk_linearity.pipelines.sweep import RunSpec


def build_model(run: RunSpec, model_params: dict, data: dict) -> MLP:
    """The network of ``run``: input dimension from the data, outputs from the head."""
    n_classes = int(np.asarray(data["y_class"]).shape[1])
    return mlp(
        d_in=int(np.asarray(data["X"]).shape[1]),
        widths=run.hidden_widths,
        activation=model_params["activation"],
        head=run.head,
        n_out=n_classes if run.head == "softmax" else 1,
        train_last_layer=model_params["train_last_layer"],
        dtype=model_params["dtype"],
        init_scheme=model_params["init_scheme"],
    )


def targets_for(run: RunSpec, data: dict) -> np.ndarray:
    """Soft class labels for the softmax head, regression targets otherwise."""
    return np.asarray(data["y_class"] if run.head == "softmax" else data["y"])


def as_jax(arrays: dict, dtype: str) -> dict:
    """Persisted numpy arrays back to JAX arrays of the model's dtype."""
    return {name: jnp.asarray(value, dtype) for name, value in arrays.items()}
