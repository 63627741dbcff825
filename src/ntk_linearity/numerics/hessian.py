"""Spectral norm of the model Hessian ``H = d^2 f / dw^2`` at one input (paper Eq. 5, 10, 13): the
dispatcher :func:`hessian_spectral_norm` over three methods.

* one-hidden-layer ``mlp``: the exact closed form of Eq. 5 and Eq. 13
  (:mod:`ntk_linearity.numerics.shallow_hessian`);
* ``mlp`` of any depth: Lanczos on the layer subspace that holds the range of H
  (:mod:`ntk_linearity.numerics.layer_subspace`);
* any model: Lanczos on all parameters (:mod:`ntk_linearity.numerics.lanczos`), with the residual
  ``||H y - theta y||`` of every estimate.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from ntk_linearity.numerics.lanczos import (
    DEFAULT_LANCZOS_STEPS,
    DEFAULT_LANCZOS_TOL,
    SpectralNorm,
    lanczos_norm_fn,
)
from ntk_linearity.numerics.layer_subspace import subspace_dimension, subspace_lanczos_norm_fn
from ntk_linearity.numerics.models import MLP
from ntk_linearity.numerics.shallow_hessian import closed_form_fn

METHODS = ("auto", "closed_form", "subspace_lanczos", "lanczos")


def _mlp_of(apply: Callable) -> MLP | None:
    """The :class:`MLP` whose bound ``apply`` this is (as the structured tangent kernel detects it), else None."""
    model = getattr(apply, "__self__", None)
    return model if isinstance(model, MLP) and getattr(apply, "__func__", None) is MLP.apply else None


def supports_closed_form(apply: Callable) -> bool:
    """True when ``apply`` is the bound ``apply`` of a one-hidden-layer :class:`MLP`."""
    model = _mlp_of(apply)
    return model is not None and len(model.widths) == 1


def hessian_method(apply: Callable) -> str:
    """The method :func:`hessian_spectral_norm` uses for ``apply`` with ``method="auto"``:
    ``"closed_form"`` (one-hidden-layer :class:`MLP`, Eq. 5 and Eq. 13), ``"subspace_lanczos"`` (a
    deeper :class:`MLP`: Lanczos on the layer subspace) or ``"lanczos"`` (any other model: Lanczos on
    all parameters). The analysis records it with every run (``runs.csv``: ``hessian_method``)."""
    return ("closed_form" if supports_closed_form(apply)
            else "subspace_lanczos" if _mlp_of(apply) is not None else "lanczos")


def _resolve_method(apply: Callable, method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    if method == "auto":
        return hessian_method(apply)
    if method == "closed_form" and not supports_closed_form(apply):
        raise ValueError(
            "method 'closed_form' needs the bound apply of a one-hidden-layer mlp "
            "(e.g. ntk_linearity.mlp(d, [m]).apply); use method='lanczos' for other models"
        )
    if method == "subspace_lanczos" and _mlp_of(apply) is None:
        raise ValueError(
            "method 'subspace_lanczos' needs the bound apply of an mlp (e.g. ntk_linearity.mlp(d, [m, m]).apply); "
            "use method='lanczos' for other models"
        )
    return method


def hessian_spectral_norm(
    apply: Callable,
    params,
    x: jax.Array,
    steps: int = DEFAULT_LANCZOS_STEPS,
    key: jax.Array | None = None,
    method: str = "auto",
    tol: float = DEFAULT_LANCZOS_TOL,
    rtol: float = 0.0,
) -> SpectralNorm:
    """``||H(w)|| = max |lambda|`` of ``d^2 f(w; x) / dw^2`` at a single input ``x`` (shape (d,)).

    For a model with C outputs every field has shape (C,): one Hessian per output (softmax heads,
    Eq. 13). ``method``: ``"closed_form"`` (exact, one-hidden-layer ``mlp`` only, see
    :func:`~ntk_linearity.numerics.shallow_hessian.shallow_spectral_norm`), ``"subspace_lanczos"``
    (any ``mlp``: Lanczos on the subspace of :func:`~ntk_linearity.numerics.layer_subspace.layer_subspace`
    that holds the range of H), ``"lanczos"`` (any ``apply(params, X)``, on all p parameters), or
    ``"auto"`` (the first of these that the model supports).

    Lanczos: at most ``steps`` iterations, capped at the dimension of the space it runs in (where
    the result is exact up to round-off), stopped early once the top Ritz residual is at most ``tol`` times the
    estimate (``tol=0`` always takes every step). Stopping only certifies that the estimate is
    within its residual of *an* eigenvalue; extreme eigenvalues converge first, and on the test and
    benchmark nets the default ``tol`` keeps ``norm`` within 1e-6 relative of the full run. ``key``
    seeds the random start vector (default: key 0). ``steps``, ``key`` and ``tol`` are ignored by
    the closed form. Closed form: ``rtol`` > 0 ends the bisection of a non-linear head at that relative
    bracket width instead of machine precision (``norm + residual`` stays an upper bound of ``||H||``);
    Lanczos ignores it.
    """
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"x must be a single input of shape (d,), got shape {x.shape}")
    if tol < 0 or rtol < 0:
        raise ValueError(f"tol and rtol must be >= 0, got tol={tol!r}, rtol={rtol!r}")
    method = _resolve_method(apply, method)
    if method == "closed_form":
        result = closed_form_fn(apply.__self__, float(rtol))(params, x)
        return result if result.norm.shape[0] > 1 else SpectralNorm(*(field[0] for field in result))
    key = jax.random.key(0) if key is None else key
    out_shape = jax.eval_shape(apply, params, x[None]).shape
    n_out = out_shape[-1] if len(out_shape) == 2 else 1
    flat, _ = ravel_pytree(params)
    if method == "subspace_lanczos":
        dim = subspace_dimension(apply.__self__)
        steps = int(min(steps, dim))
        v0 = jax.random.normal(key, (dim,), flat.dtype)
        one_output = subspace_lanczos_norm_fn(apply, steps, float(tol))
    else:
        steps = int(min(steps, flat.shape[0]))
        v0 = jax.random.normal(key, flat.shape, flat.dtype)
        one_output = lanczos_norm_fn(apply, steps, float(tol))
    per_output = [one_output(params, x, c, v0) for c in range(n_out)]
    result = SpectralNorm(*(jnp.stack(field) for field in zip(*per_output)))
    return result if n_out > 1 else SpectralNorm(*(field[0] for field in result))
