"""An estimate of the peak memory of one run (training with kernel snapshots, then ||H||).

The estimate adds the arrays that dominate, each counted once at the model's dtype:

* ``parameters``: w_0, w_t, the gradient and the update (4 p);
* ``krylov_basis``: the Lanczos basis of :func:`hessian_spectral_norm` (steps x p, plus three work
  vectors), absent where the closed form of a one-hidden-layer network applies;
* ``kernel_factors``: the factors of the structured tangent kernel of an :class:`MLP`, every
  layer's input (n x fan_in) and output cotangents (n x n_out x fan_out), and K itself; for other
  models the per-sample Jacobian (n x n_out x p) that the generic path forms;
* ``kernel_snapshots``: K(w_t) at every snapshot, (S x (n n_out)^2);
* ``loss_array``: L(w_t) for every step (max_steps + 1).

It is an estimate, not a bound on what XLA allocates (fusion buffers, compilation), so callers
compare it with the available memory with a margin.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ntk_linearity.numerics.hessian import supports_closed_form
from ntk_linearity.numerics.models import MLP

LANCZOS_WORK_VECTORS = 3


def peak_memory_bytes(model: Any, n_samples: int, *, lanczos_steps: int, max_steps: int,
                      n_snapshots: int) -> dict[str, int]:
    """The components of the estimate (module docstring), in bytes, for ``model`` (with
    ``n_params``, ``n_out``, ``dtype`` and a bound ``apply``) trained on ``n_samples`` inputs."""
    itemsize = np.dtype(model.dtype).itemsize
    p, n, n_out = model.n_params, n_samples, model.n_out
    krylov = 0 if supports_closed_form(model.apply) else (min(lanczos_steps, p) + LANCZOS_WORK_VECTORS) * p
    if isinstance(model, MLP):
        factors = n * sum(model.fan_ins) + n * n_out * sum(model.fan_outs) + (n * n_out) ** 2
    else:
        factors = n * n_out * p + (n * n_out) ** 2
    elements = {
        "parameters": 4 * p,
        "krylov_basis": krylov,
        "kernel_factors": factors,
        "kernel_snapshots": n_snapshots * (n * n_out) ** 2,
        "loss_array": max_steps + 1,
    }
    return {name: int(count) * itemsize for name, count in elements.items()}
