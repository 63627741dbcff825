"""scikit-learn's digits as training data (ntk_linearity.numerics.digits): the subset, the preprocessing
and the targets, on the real images read from the copy inside scikit-learn's wheel."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from ntk_linearity.numerics.digits import (
    DIGITS_CLASSES,
    DIGITS_SHAPE,
    DIGITS_SIZE,
    digits_dataset,
    preprocess,
    subset_indices,
)

SETTINGS = dict(seed=3, n_samples=100, preprocessing="centred_sphere", label_smoothing=0.1)


@pytest.fixture(scope="module")
def raw():
    digits = load_digits()
    return digits.data, digits.target


def test_the_constants_describe_scikit_learns_data(raw):
    pixels, labels = raw
    assert pixels.shape == (DIGITS_SIZE, int(np.prod(DIGITS_SHAPE))) and set(labels) == set(range(DIGITS_CLASSES))
    assert pixels.min() == 0 and pixels.max() == 16


def test_shapes_one_hot_targets_and_the_chosen_indices(raw):
    data = digits_dataset(*raw, **SETTINGS)
    n = SETTINGS["n_samples"]
    assert data["X"].shape == (n, 64) and data["X"].dtype == np.float32
    assert tuple(data["image_shape"]) == DIGITS_SHAPE
    assert data["y"].shape == data["y_class"].shape == (n, DIGITS_CLASSES)
    labels = raw[1][data["indices"]]
    np.testing.assert_array_equal(data["y"], np.eye(DIGITS_CLASSES)[labels])  # exact one-hot rows
    np.testing.assert_allclose(data["y_class"], 0.9 * data["y"] + 0.01, atol=1e-7)  # smoothed, rows sum to 1
    np.testing.assert_allclose(data["y_class"].sum(axis=1), 1.0, rtol=1e-6)
    assert len(set(data["indices"].tolist())) == n
    # the 8 x 8 images, row-major: X reshaped gives back the preprocessed pixels of each chosen image
    full = preprocess(raw[0], "centred_sphere")
    np.testing.assert_array_equal(data["X"].reshape(n, *DIGITS_SHAPE)[:, :, :, 0], full[data["indices"]].reshape(n, 8, 8))


def test_each_pixel_is_centred_over_the_whole_data_set_then_each_image_put_on_the_sphere(raw):
    pixels = raw[0]
    X = preprocess(pixels, "centred_sphere").astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 8.0, rtol=1e-6)  # ||x|| = sqrt(d)
    # Centring comes first, over all 1,797 images (before any subset): undoing each image's scale
    # factor ||c_i|| / 8 gives pixels whose mean over the data set is zero.
    centred_norms = np.linalg.norm(pixels - pixels.mean(axis=0), axis=1, keepdims=True)
    np.testing.assert_allclose((X * centred_norms / 8.0).mean(axis=0), 0.0, atol=1e-5)
    subset = digits_dataset(pixels, raw[1], **SETTINGS)["X"]
    np.testing.assert_allclose(np.linalg.norm(subset, axis=1), 8.0, rtol=1e-6)
    np.testing.assert_allclose(preprocess(pixels, "raw"), pixels / 16, rtol=1e-6)  # grey levels in [0, 1]


def test_the_subset_is_determined_by_its_seed(raw):
    first, again = digits_dataset(*raw, **SETTINGS), digits_dataset(*raw, **SETTINGS)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    other = digits_dataset(*raw, **SETTINGS | {"seed": 4})
    assert not np.array_equal(first["indices"], other["indices"])
    np.testing.assert_array_equal(subset_indices(3, 10), subset_indices(3, 100)[:10])  # a larger subset extends it
    assert sorted(subset_indices(0, DIGITS_SIZE)) == list(range(DIGITS_SIZE))


def test_bad_arguments_are_refused(raw):
    with pytest.raises(ValueError, match="n_samples must be between 1 and 1797, got 1798"):
        subset_indices(0, DIGITS_SIZE + 1)
    with pytest.raises(ValueError, match="preprocessing must be one of"):
        preprocess(raw[0], "whiten")
