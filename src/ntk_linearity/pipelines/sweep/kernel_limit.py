"""A run's tangent kernel at initialisation against its infinite-width limit Theta.

``kernel_deviation_init = ||K(w_0) - Theta||_F / ||Theta||_F`` (:func:`~ntk_linearity.numerics.infinite_width.
kernel_deviation`), with Theta the NTK of the run's network at infinite width on the run's inputs
(:mod:`ntk_linearity.numerics.infinite_width`). K(w_0) is an average over the m neurons of the widest layers
of i.i.d. terms whose mean is Theta, so the deviation falls like m^(-1/2). Where Theta is not derived (a
convolutional family, the standard parameterisation, a non-linear head, a fixed bottleneck) the column is
NaN and ``kernel_limit`` says why; it never carries a number for such a run.
"""

from __future__ import annotations

import hashlib
import numpy as np

from ntk_linearity.experiment.runs import RunSpec
from ntk_linearity.numerics.infinite_width import infinite_width_ntk_of, kernel_deviation, not_derived_reason

DERIVED = "derived"
KERNEL_LIMIT_COLUMNS = ("kernel_deviation_init", "kernel_limit")


def kernel_limit_reason(run: RunSpec) -> str:
    """``"derived"`` when Theta is derived for the run's network, else the one-line ``"not derived: ..."``."""
    return not_derived_reason(run.family, run.model.model_dump()) or DERIVED


def kernel_limit_metrics(run: RunSpec, model, X: np.ndarray, kernel0: np.ndarray) -> dict:
    """The run's ``kernel_deviation_init`` (``kernel0`` = K(w_0) in the layout of
    :func:`~ntk_linearity.numerics.kernels.empirical_ntk`) and ``kernel_limit``; NaN where not derived."""
    reason = kernel_limit_reason(run)
    if reason != DERIVED:
        return {"kernel_deviation_init": float("nan"), "kernel_limit": reason}
    return {"kernel_deviation_init": kernel_deviation(kernel0, _theta(model, X)), "kernel_limit": DERIVED}


def _theta(model, X: np.ndarray) -> np.ndarray:
    """Theta of ``model`` on ``X``; the runs of a sweep share their inputs and differ in width, which Theta
    does not depend on, so it is computed once per process for each network shape and data set."""
    X = np.ascontiguousarray(X)
    key = (model.activation, len(model.widths), model.train_last_layer, model.init_scheme,
           float(model.output_scale), int(model.n_out), X.shape, hashlib.sha256(X.tobytes()).hexdigest())
    if key not in _THETAS:
        if len(_THETAS) >= _CACHED_THETAS:
            _THETAS.pop(next(iter(_THETAS)))
        _THETAS[key] = infinite_width_ntk_of(model, X)
    return _THETAS[key]


_CACHED_THETAS = 8
_THETAS: dict[tuple, np.ndarray] = {}  # everything of (model, X) that Theta depends on -> Theta
