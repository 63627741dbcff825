"""Hessian spectral norm and gradient norm of every run (E4: Table 1, Eq. 5, 6, 13, 14)."""

from __future__ import annotations

import logging
import time

import jax
import numpy as np

from ntk_linearity.numerics import hessian_spectral_norm, ntk_diagonal
from ntk_linearity.pipelines.common import as_jax, build_model
from ntk_linearity.pipelines.sweep import RunSpec

logger = logging.getLogger(__name__)


def analyse_hessian(
    initial_params: dict,
    final_params: dict,
    data: dict,
    model_params: dict,
    hessian_params: dict,
    *,
    run: RunSpec,
) -> dict:
    """||H|| = max |lambda(d^2 f / dw^2)| at the probe input x_0 (the largest over outputs), at w_0 and
    at w_T, and the tangent kernel diagonal K(x, x) = ||grad_w f||^2 (Eq. 6) averaged over the data."""
    model = build_model(run, model_params, data)
    X = np.asarray(data["X"])
    probe = X[int(hessian_params["probe_index"])]
    steps = int(hessian_params["lanczos_steps"])
    started = time.perf_counter()
    metrics = {"namespace": run.namespace, "n_params": model.n_params}
    for stage, arrays in (("init", initial_params), ("final", final_params)):
        params = as_jax(arrays, model.dtype)
        norm = hessian_spectral_norm(model.apply, params, probe, steps=steps, key=jax.random.key(run.seed))
        top = int(np.argmax(np.atleast_1d(norm.norm)))
        metrics[f"hessian_norm_{stage}"] = float(np.atleast_1d(norm.norm)[top])
        metrics[f"hessian_residual_{stage}"] = float(np.atleast_1d(norm.residual)[top])
        metrics[f"ntk_diag_{stage}"] = float(np.mean(ntk_diagonal(model.apply, params, X)))
    metrics["hessian_wall_seconds"] = time.perf_counter() - started
    logger.info(
        "%s: ||H|| %.3e -> %.3e (residual %.1e), K(x,x) %.3f",
        run.namespace, metrics["hessian_norm_init"], metrics["hessian_norm_final"],
        metrics["hessian_residual_init"], metrics["ntk_diag_init"],
    )
    return metrics
