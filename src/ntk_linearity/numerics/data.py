"""Synthetic data for the experiments (the paper's Appendix C setup is not available).

Inputs lie on the sphere of radius sqrt(d), so every coordinate is O(1) and the first-layer
pre-activations ``z = W x / sqrt(d)`` are N(0, 1) under the NTK parameterisation.

* Regression targets ``y = amplitude * sin(frequency * <u, x>)`` with a random unit vector u: an odd
  function, which bias-free networks with odd activations represent with O(1) weights, and with
  ``amplitude`` small enough (0.25) to stay inside the range of the swish head (swish >= -0.278).
* Class targets (softmax head): soft labels ``softmax(temperature * U x / sqrt(d))`` with U a random
  (C, d) Gaussian matrix, so an exact fit exists and the loss can reach zero.

Images for the convolutional models (:mod:`ntk_linearity.numerics.conv`): :func:`synthetic_images`,
smooth random fields with the same two kinds of targets.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ntk_linearity.numerics.compiling import sized_jit


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


# --------------------------------------------------------------------------------------------------
# Images (for the convolutional models of ntk_linearity.numerics.conv)
# --------------------------------------------------------------------------------------------------


@sized_jit(static_argnums=(1, 2, 3, 4, 6))
def smooth_random_fields(
    key: jax.Array, n: int, height: int, width: int, channels: int, smoothness: float, dtype: str = "float32"
) -> jax.Array:
    """``n`` smooth random images of shape (height, width, channels), each of mean square 1.

    White noise is low-pass filtered in Fourier space by the Gaussian ``exp(-2 pi^2 s^2 |k|^2)``
    (``k`` in cycles per pixel, ``s = smoothness`` in pixels), i.e. convolved periodically with a
    Gaussian of standard deviation ``s``: every channel is an independent stationary field whose
    correlation between pixels at distance ``delta`` is ``exp(-delta^2 / (4 s^2))``. Each image is
    then rescaled so that ``mean(x^2) = 1`` over its H*W*C entries (norm ``sqrt(dim)``, as the
    sphere inputs of :func:`sphere_inputs`).
    """
    noise = jax.random.normal(key, (n, height, width, channels), dtype)
    ky = jnp.fft.fftfreq(height)[:, None]
    kx = jnp.fft.rfftfreq(width)[None, :]
    low_pass = jnp.exp(-2.0 * jnp.pi**2 * smoothness**2 * (ky**2 + kx**2))[None, :, :, None]
    spectrum = jnp.fft.rfft2(noise, axes=(1, 2)) * low_pass
    fields = jnp.fft.irfft2(spectrum, s=(height, width), axes=(1, 2)).astype(dtype)
    return fields / jnp.sqrt(jnp.mean(fields**2, axis=(1, 2, 3), keepdims=True))


def _templates(key: jax.Array, count: int, shape: tuple[int, int, int], smoothness: float) -> jax.Array:
    """``count`` smooth random templates of mean square 1, flattened: shape ``(count, H*W*C)``."""
    return smooth_random_fields(key, count, *shape, smoothness).reshape(count, -1)


def image_regression_targets(key: jax.Array, X: jax.Array, amplitude: float, frequency: float,
                             smoothness: float) -> jax.Array:
    """``y_i = amplitude * sin(frequency * <U, x_i> / sqrt(dim))`` for images ``X`` (n, H, W, C) and a
    smooth random template ``U`` of mean square 1 drawn from ``key``: a smooth odd function of the
    image with ``|y| <= amplitude``."""
    flat = X.reshape(X.shape[0], -1)
    U = _templates(key, 1, X.shape[1:], smoothness)[0]
    return amplitude * jnp.sin(frequency * (flat @ U) / jnp.sqrt(jnp.asarray(flat.shape[1], X.dtype)))


def image_class_targets(key: jax.Array, X: jax.Array, n_classes: int, temperature: float,
                        smoothness: float) -> jax.Array:
    """Soft labels ``softmax(temperature * <U_c, x> / sqrt(dim))`` over ``n_classes`` smooth random
    templates ``U_c`` drawn from ``key``: rows sum to 1 and an exact fit exists."""
    flat = X.reshape(X.shape[0], -1)
    U = _templates(key, n_classes, X.shape[1:], smoothness)
    return jax.nn.softmax(temperature * (flat @ U.T) / jnp.sqrt(jnp.asarray(flat.shape[1], X.dtype)), axis=1)


class ImageSizes(NamedTuple):
    """The static sizes of a :func:`synthetic_images` dataset (each compiles its own program)."""

    n_samples: int
    height: int
    width: int
    channels: int
    n_classes: int


class TargetScales(NamedTuple):
    """The continuous settings of a :func:`synthetic_images` dataset (traced: one program for all)."""

    amplitude: float
    frequency: float
    temperature: float
    smoothness: float


def synthetic_images(
    seed: int,
    n_samples: int,
    height: int,
    width: int,
    channels: int,
    *,
    amplitude: float,
    frequency: float,
    n_classes: int,
    temperature: float,
    smoothness: float,
) -> dict[str, jax.Array]:
    """Smooth random images ``X`` (n, H, W, C) with regression and soft class targets, from one seed.

    * ``X``: :func:`smooth_random_fields` with ``smoothness`` (pixels); every image has mean square 1.
    * ``y``: :func:`image_regression_targets`, a smooth odd function of the image with
      ``|y| <= amplitude``, so ``amplitude = 0.25`` stays inside the range of the swish head
      (swish >= -0.278), as for :func:`synthetic_dataset`.
    * ``y_class``: :func:`image_class_targets`.

    Ten parameters: one per setting of the typed ``images`` parameter group, the target settings
    keyword-only.
    """
    return _synthetic_images(
        jax.random.key(seed),
        ImageSizes(n_samples, height, width, channels, n_classes),
        TargetScales(amplitude, frequency, temperature, smoothness),
    )


@sized_jit(static_argnums=(1,))
def _synthetic_images(key: jax.Array, sizes: ImageSizes, scales: TargetScales) -> dict[str, jax.Array]:
    k_x, k_y, k_c = jax.random.split(key, 3)
    X = smooth_random_fields(k_x, sizes.n_samples, sizes.height, sizes.width, sizes.channels, scales.smoothness)
    return {
        "X": X,
        "y": image_regression_targets(k_y, X, scales.amplitude, scales.frequency, scales.smoothness),
        "y_class": image_class_targets(k_c, X, sizes.n_classes, scales.temperature, scales.smoothness),
    }
