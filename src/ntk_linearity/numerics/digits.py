"""Real data: scikit-learn's ``digits`` (1,797 grey 8 x 8 images of 10 classes, 16 grey levels).

This module is pure: it receives the images and labels (the data-generation node reads them with
``sklearn.datasets.load_digits``, from the copy inside scikit-learn's wheel, no download) and
selects, preprocesses and labels them.

* **Subset**: ``n_samples`` images at the indices :func:`subset_indices` draws from ``seed``.
* **Preprocessing** (``centred_sphere``): each pixel is centred over the whole data set (all 1,797
  images, before the subset is taken, so the map does not depend on the subset), then each image is
  put on the sphere of radius ``sqrt(d)`` (d = 64), as the synthetic inputs of
  :mod:`ntk_linearity.numerics.data`: the first-layer pre-activations are O(1) and the tangent
  kernel K(w_0) is well conditioned. ``raw`` keeps the grey levels scaled to [0, 1] (every image in
  the positive orthant, strongly correlated: a much worse conditioned kernel).
* **Targets**: one-hot rows of C = 10 classes, ``y`` for the linear (and swish) head; ``y_class`` for
  the softmax head, with the label smoothing ``(1 - eps) one_hot + eps / C`` (an exact one-hot target
  needs infinite logits: the probabilities only approach it).

The images are returned flattened, ``X`` of shape ``(n, 64)`` with ``image_shape = (8, 8, 1)``: the
fully connected family reads them as vectors (d = 64), the convolutional families reshape them
(row-major, as the synthetic images).
"""

from __future__ import annotations

import numpy as np

DIGITS_SIZE = 1797            # images in scikit-learn's digits
DIGITS_SHAPE = (8, 8, 1)      # height, width, channels
DIGITS_CLASSES = 10
DIGITS_GREY_LEVELS = 16       # pixel values 0 ... 16
PREPROCESSINGS = ("centred_sphere", "raw")


def subset_indices(seed: int, n_samples: int, total: int = DIGITS_SIZE) -> np.ndarray:
    """``n_samples`` distinct indices of ``range(total)`` in random order, drawn from ``seed``."""
    if not 0 < n_samples <= total:
        raise ValueError(f"n_samples must be between 1 and {total}, got {n_samples}")
    return np.random.default_rng(seed).permutation(total)[:n_samples]


def preprocess(pixels: np.ndarray, preprocessing: str) -> np.ndarray:
    """The inputs of the whole data set ``pixels`` (N, d) under ``preprocessing``
    (:data:`PREPROCESSINGS`), as float32: ``centred_sphere`` centres each pixel over the N images and
    puts each image on the sphere of radius ``sqrt(d)``; ``raw`` divides the grey levels by 16."""
    X = np.asarray(pixels, np.float64)
    if preprocessing == "raw":
        return (X / DIGITS_GREY_LEVELS).astype(np.float32)
    if preprocessing != "centred_sphere":
        raise ValueError(f"preprocessing must be one of {list(PREPROCESSINGS)}, got {preprocessing!r}")
    X = X - X.mean(axis=0)
    return (np.sqrt(X.shape[1]) * X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def one_hot(labels: np.ndarray, n_classes: int, smoothing: float = 0.0) -> np.ndarray:
    """Rows ``(1 - smoothing) e_label + smoothing / n_classes``, float32, shape (n, n_classes)."""
    rows = np.eye(n_classes)[np.asarray(labels)]
    return ((1.0 - smoothing) * rows + smoothing / n_classes).astype(np.float32)


def digits_dataset(pixels: np.ndarray, labels: np.ndarray, *, seed: int, n_samples: int,
                   preprocessing: str, label_smoothing: float) -> dict[str, np.ndarray]:
    """The training data of the digits source from the whole data set (``pixels`` (N, 64), ``labels``
    (N,)): ``X`` (n, 64), one-hot ``y``, smoothed one-hot ``y_class`` (n, 10), ``image_shape`` and the
    chosen ``indices`` into the data set (module docstring)."""
    indices = subset_indices(seed, n_samples, len(pixels))
    labels = np.asarray(labels)[indices]
    return {
        "X": preprocess(pixels, preprocessing)[indices],
        "y": one_hot(labels, DIGITS_CLASSES),
        "y_class": one_hot(labels, DIGITS_CLASSES, label_smoothing),
        "image_shape": np.asarray(DIGITS_SHAPE, np.int64),
        "indices": indices.astype(np.int64),
    }
