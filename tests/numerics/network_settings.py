"""The values the numerics tests build their networks and gradient-descent runs with, stated once
(the builders default none of them: a sweep takes them from its typed settings)."""

from ntk_linearity import GradientDescentSettings, cnn, gradient_descent, mlp, resnet, snapshot_schedule

MLP_SETTINGS = dict(activation="tanh", head="linear", train_last_layer=True, dtype="float32", init_scheme="iid",
                    parameterization="ntk", output_scale=1.0)
CONV_SETTINGS = dict(kernel_size=3, activation="tanh", head="linear", pooling="global_average",
                     train_last_layer=True, dtype="float32", init_scheme="iid")
TRAINING = dict(tol=1e-4, loss="square", divergence_factor=1e3, progress_every=None)


def make_mlp(d_in, widths, **options):
    """:func:`mlp` with :data:`MLP_SETTINGS`, except ``options``."""
    return mlp(d_in, widths, **(MLP_SETTINGS | options))


def make_cnn(input_shape, channels, **options):
    """:func:`cnn` with :data:`CONV_SETTINGS`, except ``options``."""
    return cnn(input_shape, channels, **(CONV_SETTINGS | options))


def make_resnet(input_shape, channels, blocks, **options):
    """:func:`resnet` with :data:`CONV_SETTINGS`, except ``options``."""
    return resnet(input_shape, channels, blocks, **(CONV_SETTINGS | options))


def descend(apply, params, X, y, *, progress=None, label="", n_snapshots=20, snapshot_steps=None, **settings):
    """:func:`gradient_descent` with :data:`TRAINING` except ``settings`` (``learning_rate`` and
    ``max_steps`` always given), snapshots at ``snapshot_steps`` or ``n_snapshots`` log-spaced steps."""
    settings = TRAINING | settings
    if snapshot_steps is None:
        snapshot_steps = snapshot_schedule(settings["max_steps"], n_snapshots)
    run = gradient_descent(GradientDescentSettings(snapshot_steps=tuple(snapshot_steps), **settings))
    return run(apply, params, X, y, progress=progress, label=label)
