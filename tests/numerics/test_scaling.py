"""Power-law fits and their intervals."""

import numpy as np
import pytest

from ntk_linearity import fit_power_law
from ntk_linearity.numerics.scaling import student_t_quantile


def test_exact_power_law_is_recovered():
    x = np.array([30, 100, 1e3, 1e4, 1e5])
    fit = fit_power_law(x, 3.0 * x**-0.5)
    assert fit.slope == pytest.approx(-0.5, abs=1e-10)
    assert np.exp(fit.intercept) == pytest.approx(3.0, rel=1e-9)
    assert fit.ci_low == pytest.approx(-0.5, abs=1e-6) and fit.ci_high == pytest.approx(-0.5, abs=1e-6)


def test_student_t_quantiles_closed_forms():
    # dof = 1 is the Cauchy distribution: F^-1(p) = tan(pi (p - 1/2)); dof = 2: t = (2p-1) sqrt(2 / (1 - (2p-1)^2)).
    assert student_t_quantile(0.975, 1) == pytest.approx(np.tan(np.pi * 0.475), rel=1e-6)
    q = 2 * 0.975 - 1
    assert student_t_quantile(0.975, 2) == pytest.approx(q * np.sqrt(2 / (1 - q * q)), rel=1e-6)


@pytest.mark.slow
def test_regression_interval_has_nominal_coverage():
    rng = np.random.default_rng(0)
    x = np.repeat([30, 100, 1e3, 1e4], 3)
    covered = 0
    for _ in range(400):
        y = 2.0 * x**-0.7 * np.exp(0.3 * rng.standard_normal(x.size))
        fit = fit_power_law(x, y)
        covered += fit.ci_low <= -0.7 <= fit.ci_high
    assert 0.91 <= covered / 400 <= 0.99


def test_bootstrap_over_seeds_brackets_the_slope():
    rng = np.random.default_rng(1)
    x = np.repeat([30, 100, 1e3, 1e4, 1e5], 5)
    seeds = np.tile(np.arange(5), 5)
    y = x**-0.5 * np.exp(0.1 * rng.standard_normal(x.size))
    fit = fit_power_law(x, y, groups=seeds, method="bootstrap")
    assert fit.ci_low < fit.slope < fit.ci_high
    assert fit.ci_high - fit.ci_low < 0.2


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="positive"):
        fit_power_law([1, 2, 3], [1, 0, 2])
    assert np.isnan(fit_power_law([10, 10, 10], [1, 2, 3]).slope)
