"""Synthetic data for the experiments (the paper's Appendix C setup is not available; DESIGN.md section 3).

Inputs lie on the sphere of radius sqrt(d), so every coordinate is O(1) and the first-layer
pre-activations ``z = W x / sqrt(d)`` are N(0, 1) under the NTK parameterisation.

* Regression targets ``y = amplitude * sin(frequency * <u, x>)`` with a random unit vector u: an odd
  function, which bias-free networks with odd activations represent with O(1) weights, and with
  ``amplitude`` small enough (0.25) to stay inside the range of the swish head (swish >= -0.278).
* Class targets (softmax head): soft labels ``softmax(temperature * U x / sqrt(d))`` with U a random
  (C, d) Gaussian matrix, so an exact fit exists and the loss can reach zero.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sphere_inputs(key: jax.Array, n: int, d: int, dtype: str = "float32") -> jax.Array:
    """``n`` points uniform on the sphere of radius ``sqrt(d)`` in R^d."""
    X = jax.random.normal(key, (n, d), dtype)
    return jnp.sqrt(jnp.asarray(d, dtype)) * X / jnp.linalg.norm(X, axis=1, keepdims=True)


def regression_targets(key: jax.Array, X: jax.Array, amplitude: float, frequency: float) -> jax.Array:
    """``y_i = amplitude * sin(frequency * <u, x_i>)`` for a random unit vector u."""
    u = jax.random.normal(key, (X.shape[1],), X.dtype)
    return amplitude * jnp.sin(frequency * (X @ (u / jnp.linalg.norm(u))))


def soft_class_targets(key: jax.Array, X: jax.Array, n_classes: int, temperature: float) -> jax.Array:
    """Soft labels ``softmax(temperature * U x / sqrt(d))``, shape (n, n_classes)."""
    U = jax.random.normal(key, (X.shape[1], n_classes), X.dtype)
    return jax.nn.softmax(temperature * X @ U / jnp.sqrt(jnp.asarray(X.shape[1], X.dtype)), axis=1)


def synthetic_dataset(
    seed: int,
    n_samples: int,
    input_dim: int,
    amplitude: float,
    frequency: float,
    n_classes: int,
    temperature: float,
) -> dict[str, jax.Array]:
    """Inputs ``X`` with regression targets ``y`` and soft class targets ``y_class``, from one seed."""
    k_x, k_y, k_c = jax.random.split(jax.random.key(seed), 3)
    X = sphere_inputs(k_x, n_samples, input_dim)
    return {
        "X": X,
        "y": regression_targets(k_y, X, amplitude, frequency),
        "y_class": soft_class_targets(k_c, X, n_classes, temperature),
    }
