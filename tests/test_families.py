"""Model families: typed settings of the convolutional families, what they build, which data they read,
and how their runs are named."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from ntk_linearity.experiment.families import (
    DIGITS,
    FAMILIES,
    IMAGES,
    SOURCES,
    VECTORS,
    CnnSettings,
    ResNetSettings,
    dataset_of,
)
from ntk_linearity.numerics import CNN, MLP, ResNet, cnn, resnet

DEFAULTS = {"activation": "tanh", "train_last_layer": True, "init_scheme": "antisymmetric", "dtype": "float32"}
IMAGE_DATA = {"X": np.zeros((4, 5 * 6 * 2)), "y": np.zeros(4), "y_class": np.full((4, 3), 1 / 3),
              "image_shape": np.array([5, 6, 2])}


def test_cnn_settings_build_the_numerics_cnn_with_image_shape_and_outputs_from_the_data():
    settings = CnnSettings(**DEFAULTS, channels=16, depth=3, bottleneck_channels=4, head="softmax",
                           pooling="flatten", kernel_size=5)
    model = FAMILIES["cnn"].build(settings, IMAGE_DATA)
    assert isinstance(model, CNN)
    assert model == cnn((5, 6, 2), (16, 4, 16), kernel_size=5, head="softmax", n_out=3, pooling="flatten",
                        **DEFAULTS)
    linear = FAMILIES["cnn"].build(CnnSettings(**DEFAULTS, channels=8, head="linear"), IMAGE_DATA)
    assert linear.channels == (8, 8) and linear.n_out == 1 and linear.pooling == "global_average"
    assert "channels 16x4x16" in FAMILIES["cnn"].describe(settings)


def test_resnet_settings_build_the_numerics_resnet():
    settings = ResNetSettings(**DEFAULTS, channels=6, blocks=2, stages=2, head="linear")
    model = FAMILIES["resnet"].build(settings, IMAGE_DATA)
    assert isinstance(model, ResNet)
    assert model == resnet((5, 6, 2), (6, 6), blocks=2, kernel_size=3, head="linear", pooling="global_average",
                           **DEFAULTS)
    assert [layer.name for layer in model.conv_layers][:3] == ["stage1_in", "stage1_block1_conv1",
                                                               "stage1_block1_conv2"]


def test_families_name_their_dataset_and_conv_families_refuse_vector_data():
    assert dataset_of("mlp", "synthetic") == VECTORS
    assert dataset_of("cnn", "synthetic") == dataset_of("resnet", "synthetic") == IMAGES
    assert {dataset_of(family, "digits") for family in FAMILIES} == {DIGITS}  # vectors and images alike
    assert list(SOURCES) == ["synthetic", "digits"]
    vectors = {k: v for k, v in IMAGE_DATA.items() if k != "image_shape"}
    with pytest.raises(ValueError, match="needs image inputs .*'image_shape'"):
        FAMILIES["cnn"].build(CnnSettings(**DEFAULTS, channels=8, head="linear"), vectors)
    # an mlp reads the flattened images as vectors
    mlp_settings = FAMILIES["mlp"].settings(**DEFAULTS, width=8, head="linear")
    assert isinstance(FAMILIES["mlp"].build(mlp_settings, IMAGE_DATA), MLP)


@pytest.mark.parametrize(("settings", "message"), [
    (dict(channels=8, depth=2, bottleneck_channels=2), "bottleneck_channels needs depth >= 3"),
    (dict(channels=7), "channels = 7 must be even with init_scheme 'antisymmetric'"),
    (dict(channels=8, depth=3, bottleneck_channels=3), None),  # the narrow layer is not the last
    (dict(channels=8, kernel_size=4), "kernel_size = 4 must be odd"),
    (dict(channels=8, pooling="max"), "'global_average' or 'flatten'"),
    (dict(channels="8"), "valid integer"),
    (dict(channels=0), "greater than 0"),
])
def test_cnn_settings_validation(settings, message):
    if message is None:
        CnnSettings(**DEFAULTS, head="linear", **settings)
        return
    with pytest.raises(ValidationError, match=message):
        CnnSettings(**DEFAULTS, head="linear", **settings)


def test_resnet_settings_validation():
    with pytest.raises(ValidationError, match="channels = 9 must be even"):
        ResNetSettings(**DEFAULTS, channels=9, head="linear")
    with pytest.raises(ValidationError, match="greater than 0"):
        ResNetSettings(**DEFAULTS, channels=8, blocks=0, head="linear")


def test_one_hot_targets_give_one_output_per_class_for_every_head():
    digits = IMAGE_DATA | {"y": np.eye(3)[[0, 1, 2, 0]], "y_class": np.eye(3)[[0, 1, 2, 0]]}
    for head in ("linear", "softmax"):
        assert FAMILIES["cnn"].build(CnnSettings(**DEFAULTS, channels=4, head=head), digits).n_out == 3

