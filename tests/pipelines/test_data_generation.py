"""The data the data_generation nodes write: the image data of the convolutional sweeps (smooth images,
not pixel noise; odd regression targets in the swish range, soft labels) and scikit-learn's digits, each
stamped with its settings."""

from __future__ import annotations

import numpy as np
import pytest

from ntk_linearity.experiment.families import DIGITS, IMAGES, VECTORS
from ntk_linearity.provenance.ledger import data_problems
from ntk_linearity.pipelines.data_generation.nodes import (
    data_shapes,
    generate_synthetic_data,
    generate_synthetic_images,
    load_digits,
)
from ntk_linearity.experiment.groups import DataParameters, DigitsParameters, ImageParameters

SETTINGS = dict(seed=3, n_samples=400, height=8, width=8, channels=2, smoothness=1.0, target_amplitude=0.25,
                target_frequency=0.3, n_classes=3, class_temperature=0.4)
VECTOR_SETTINGS = dict(seed=0, n_samples=5, input_dim=3, target_amplitude=0.25, target_frequency=1.5, n_classes=4,
                       class_temperature=1.5)
DIGITS_SETTINGS = dict(seed=0, n_samples=6, preprocessing="centred_sphere", label_smoothing=0.1)


@pytest.fixture(scope="module")
def images() -> dict:
    return generate_synthetic_images(image_params=ImageParameters(**SETTINGS))


@pytest.fixture(scope="module")
def small_images() -> dict:
    """4 x 4 x 2 images with a short correlation length: 32 pixels far from collinear, so that linear
    fits on 400 of them are well conditioned."""
    return generate_synthetic_images(image_params=ImageParameters(**SETTINGS | dict(height=4, width=4,
                                                                                    smoothness=0.5)))


def _neighbour_correlation(pixels: np.ndarray) -> float:
    """Mean product of horizontally and vertically adjacent pixels over the mean square."""
    pairs = np.concatenate([(pixels[:, :, 1:] * pixels[:, :, :-1]).ravel(),
                            (pixels[:, 1:] * pixels[:, :-1]).ravel()])
    return float(pairs.mean() / np.mean(pixels**2))


def test_images_are_stored_flat_with_their_shape_and_settings(images):
    n, shape = SETTINGS["n_samples"], (8, 8, 2)
    assert images["X"].shape == (n, 128) and tuple(images["image_shape"]) == shape
    assert images["y"].shape == (n,) and images["y_class"].shape == (n, 3)
    np.testing.assert_allclose(np.mean(images["X"] ** 2, axis=1), 1.0, rtol=1e-5)  # every image: mean square 1
    assert data_problems(images, ImageParameters(**SETTINGS).model_dump(), "images") == []
    assert data_problems(images, ImageParameters(**SETTINGS | {"seed": 4}).model_dump(), "images") == [
        "images.seed 3 -> 4"]


def test_images_are_smooth_fields_not_pixel_noise(images):
    pixels = images["X"].reshape(-1, 8, 8, 2)
    # a Gaussian low-pass of width s correlates neighbours like exp(-1 / (4 s^2)) = 0.78 for s = 1
    # (8 x 8 images normalised one by one: the estimate is biased low by O(s^2 / 64))
    assert _neighbour_correlation(pixels) == pytest.approx(np.exp(-0.25), abs=0.08)
    noise = np.random.default_rng(0).standard_normal(pixels.shape)  # i.i.d. pixels: about 0
    assert abs(_neighbour_correlation(noise)) < 0.02


def test_regression_targets_are_an_odd_function_inside_the_swish_range(small_images):
    X, y = small_images["X"].astype(np.float64), small_images["y"].astype(np.float64)
    amplitude, frequency = SETTINGS["target_amplitude"], SETTINGS["target_frequency"]
    assert np.max(np.abs(y)) <= amplitude < 0.278  # swish >= -0.278
    assert np.std(y) > 0.05  # not a constant
    # y = A sin(omega <w, x>): the phase is linear in x. Fitted with a free intercept, the intercept
    # vanishes, so f(-x) = -f(x) for every image (where |phase| < pi/2 the arcsine inverts the sine).
    phase = np.arcsin(y / amplitude) / frequency
    assert np.max(np.abs(phase * frequency)) < np.pi / 2
    design = np.column_stack([X, np.ones(len(X))])
    coefficients, *_ = np.linalg.lstsq(design, phase, rcond=None)
    assert np.max(np.abs(design @ coefficients - phase)) < 1e-3
    assert abs(coefficients[-1]) < 1e-4
    w = coefficients[:-1]
    np.testing.assert_allclose(amplitude * np.sin(frequency * (-X) @ w), -y, atol=1e-4)


def test_soft_labels_are_a_softmax_of_linear_logits(small_images):
    labels, X = small_images["y_class"].astype(np.float64), small_images["X"].astype(np.float64)
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-5)
    logits = np.log(labels)
    logits -= logits.mean(axis=1, keepdims=True)
    W, *_ = np.linalg.lstsq(X, logits, rcond=None)
    assert np.max(np.abs(X @ W - logits)) < 1e-3


@pytest.mark.parametrize("dataset", [VECTORS, IMAGES, DIGITS])
def test_data_shapes_are_the_generated_shapes_without_the_data(dataset):
    """The stand-ins the memory check builds networks from have exactly the shapes and dtypes of the
    data the node generates, and hold one number however large the data set."""
    parameters = type("P", (), {"images": ImageParameters(**SETTINGS | {"n_samples": 4}),
                                "data": DataParameters(**VECTOR_SETTINGS),
                                "digits": DigitsParameters(**DIGITS_SETTINGS)})()
    node = {VECTORS: lambda: generate_synthetic_data(data_params=parameters.data),
            IMAGES: lambda: generate_synthetic_images(image_params=parameters.images),
            DIGITS: lambda: load_digits(digits_params=parameters.digits)}
    generated = node[dataset]()
    shapes = data_shapes(dataset, parameters)
    for name, stand_in in shapes.items():
        assert (stand_in.shape, stand_in.dtype) == (generated[name].shape, generated[name].dtype), name
    np.testing.assert_array_equal(shapes.get("image_shape", 0), generated.get("image_shape", 0))
    huge = type("P", (), {"images": ImageParameters(**SETTINGS | {"n_samples": 10**9}),
                          "data": DataParameters(**VECTOR_SETTINGS | {"n_samples": 10**9}),
                          "digits": DigitsParameters(**DIGITS_SETTINGS | {"n_samples": 1797})})()
    assert data_shapes(dataset, huge)["X"].shape[0] == (1797 if dataset == DIGITS else 10**9)
    assert all(array.base is None or array.base.size == 1 for array in data_shapes(dataset, huge).values())



def test_the_digits_record_their_settings_and_provenance():
    settings = DigitsParameters(**DIGITS_SETTINGS)
    digits = load_digits(digits_params=settings)
    assert digits["X"].shape == (6, 64) and tuple(digits["image_shape"]) == (8, 8, 1)
    assert data_problems(digits, settings.model_dump(), "digits") == []
    changed = DigitsParameters(**DIGITS_SETTINGS | {"seed": 1}).model_dump()
    problems = data_problems(digits, changed, "digits")
    assert "digits.seed 0 -> 1" in problems
    assert any(p.startswith("digits.provenance.indices_sha256 ") for p in problems)  # other images chosen
