"""Log-log power-law fits ``y ~ c * x^slope`` with confidence intervals (Table 1 exponents).

Two interval methods:
* ``regression``: ordinary least squares on ``(log x, log y)`` with a Student-t interval on the slope;
  every (width, seed) point is an independent random initialisation;
* ``bootstrap``: resample whole seeds (``groups``) with replacement and refit; percentile interval.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import betainc

from ntk_linearity.numerics.compiling import sized_jit

CI_METHODS = ("regression", "bootstrap")


class PowerLawFit(NamedTuple):
    slope: float
    intercept: float  # log(c)
    ci_low: float
    ci_high: float
    n_points: int
    method: str


@functools.lru_cache(maxsize=256)
def student_t_quantile(p: float, dof: int) -> float:
    """Quantile of Student's t distribution, by bisection on its CDF
    ``1 - I_{dof/(dof+t^2)}(dof/2, 1/2) / 2`` (t > 0): one compiled loop, cached per ``(p, dof)``."""
    if not 0.5 <= p < 1:
        raise ValueError(f"p must be in [0.5, 1), got {p}")
    return float(_t_quantile_bisection(jnp.asarray(p), jnp.asarray(dof)))


@sized_jit
def _t_quantile_bisection(p: jax.Array, dof: jax.Array) -> jax.Array:
    def halve(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        cdf = 1.0 - 0.5 * betainc(dof / 2.0, 0.5, dof / (dof + mid * mid))
        return jnp.where(cdf < p, mid, lo), jnp.where(cdf < p, hi, mid)

    lo, hi = jax.lax.fori_loop(0, 200, halve, (jnp.zeros_like(p), jnp.full_like(p, 1e3)))
    return 0.5 * (lo + hi)


def _weighted_slopes(lx: jax.Array, ly: jax.Array, weights: jax.Array) -> jax.Array:
    """Least-squares slopes for each row of ``weights`` (shape (B, n_points))."""
    total = weights.sum(axis=1, keepdims=True)
    mx = (weights * lx).sum(axis=1, keepdims=True) / total
    my = (weights * ly).sum(axis=1, keepdims=True) / total
    cov = (weights * (lx - mx) * (ly - my)).sum(axis=1)
    var = (weights * (lx - mx) ** 2).sum(axis=1)
    return cov / jnp.where(var > 0, var, jnp.nan)


def fit_power_law(
    x,
    y,
    groups=None,
    method: str = "regression",
    confidence: float = 0.95,
    n_bootstrap: int = 2000,
    key: jax.Array | None = None,
) -> PowerLawFit:
    """Fit ``log y = intercept + slope * log x``; ``x`` and ``y`` must be positive.

    ``groups`` labels each point with its seed, for ``method="bootstrap"``. Fewer than 3 points, or a
    single distinct x, give NaN interval bounds rather than an invented precision.
    """
    if method not in CI_METHODS:
        raise ValueError(f"method must be one of {list(CI_METHODS)}, got {method!r}")
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d of equal length, got {x.shape} and {y.shape}")
    if np.any(x <= 0) or np.any(y <= 0) or not np.all(np.isfinite(np.log(y))):
        raise ValueError("x and y must be positive and finite for a log-log fit")
    lx, ly = np.log(x), np.log(y)
    n = x.size
    if n < 2 or np.unique(x).size < 2:
        return PowerLawFit(np.nan, np.nan, np.nan, np.nan, n, method)
    slope, intercept = np.polyfit(lx, ly, 1)
    ci_low = ci_high = np.nan
    if method == "regression" and n > 2:
        residuals = ly - (intercept + slope * lx)
        stderr = np.sqrt(residuals @ residuals / (n - 2) / np.sum((lx - lx.mean()) ** 2))
        half = student_t_quantile(0.5 + confidence / 2, n - 2) * stderr
        ci_low, ci_high = slope - half, slope + half
    elif method == "bootstrap":
        if groups is None:
            raise ValueError("method 'bootstrap' needs groups (the seed of every point)")
        labels, index = np.unique(np.asarray(groups), return_inverse=True)
        key = jax.random.key(0) if key is None else key
        draws = jax.random.randint(key, (n_bootstrap, labels.size), 0, labels.size)
        counts = jax.vmap(lambda d: jnp.bincount(d, length=labels.size))(draws)
        slopes = np.asarray(_weighted_slopes(lx, ly, counts[:, index].astype(jnp.float32)))
        slopes = slopes[np.isfinite(slopes)]
        alpha = (1 - confidence) / 2
        ci_low, ci_high = np.quantile(slopes, [alpha, 1 - alpha])
    return PowerLawFit(float(slope), float(intercept), float(ci_low), float(ci_high), n, method)
