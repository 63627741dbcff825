"""The step-size sweep's statements computed from a hand-made runs table whose edges are known: the
ratio at which the loss rises and the kernel moves, the highest stable ratio, the margin of the
divergence criterion, and how they flip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ntk_linearity.pipelines.reporting.statements.step_size import critical_ratios, step_size_statement

RATIOS, WIDTHS = (0.5, 1.9, 2.2, 3.0, 4.5), (100, 1000)


def _runs(rise_at_1p9: bool = False, diverge_at=((4.5, 1000),)) -> pd.DataFrame:
    rows = []
    for ratio in RATIOS:
        for width in WIDTHS:
            catapult = ratio > 2 or (rise_at_1p9 and ratio == 1.9)
            diverged = (ratio, width) in diverge_at
            rows.append({
                "namespace": f"lr.el{ratio}_m{width}", "sweep": "lr", "group": f"el{ratio}", "seed": 0,
                "architecture": "linear_output_lr", "eta_lambda0": ratio, "width": width,
                "diverged": diverged, "converged": not diverged,
                "loss_peak_ratio": np.nan if diverged else (0.5 * width if catapult else 1.0),
                "delta_k": np.nan if diverged else (0.4 if catapult else 0.3 / width),
                "eta_lambda_max_final": np.nan if diverged else min(ratio, 1.7),
            })
    return pd.DataFrame(rows)


def test_edges_are_read_at_the_widest_width():
    edges = critical_ratios(_runs(), "lr", "width", threshold=0.1)
    assert edges == {"loss_rises": 2.2, "kernel_moves": 2.2, "highest_stable": 3.0, "first_diverged": 4.5}
    flipped = critical_ratios(_runs(rise_at_1p9=True, diverge_at=((3.0, 100), (4.5, 100))), "lr", "width", 0.1)
    assert flipped == {"loss_rises": 1.9, "kernel_moves": 1.9, "highest_stable": 2.2, "first_diverged": 3.0}
    stable = critical_ratios(_runs(diverge_at=()), "lr", "width", 0.1)
    assert stable["highest_stable"] == 4.5 and np.isnan(stable["first_diverged"])
    assert np.isnan(critical_ratios(_runs(), "other", "width", 0.1)["loss_rises"])


def test_statement_names_the_edges_and_the_divergence_margin():
    scaling = pd.DataFrame([{"sweep": "lr", "group": "el3.0", "quantity": "loss_peak_ratio", "slope": 1.0,
                             "slope_ci_low": np.nan, "slope_ci_high": np.nan, "theory_slope": np.nan}])
    text = step_size_statement(_runs(), scaling, "lr", "width", 0.1, divergence_factor=1e12)
    assert "log–log slopes of max_t L_t / L₀ against m +1.00 at ηλ₀ = 3 (the residual" in text
    assert ("the loss rises above L₀ from **ηλ₀ = 2.2** on (the next lower value of the grid, 1.9, does not)"
            in text)
    assert "the highest ratio with no diverged run is **ηλ₀ = 3**" in text
    assert "Every run that converged ends with ηλ_max(K_T/n) ≤ 1.7 < 2" in text
    assert "The largest peak of a run that came back is 500 × L₀, a factor 2e+09 below" in text
    assert "| 4\\.5 | 1 of 2 |" in text  # the table row of the ratio with a diverged run
    none = step_size_statement(_runs(diverge_at=()), pd.DataFrame(columns=["sweep", "group", "quantity"]),
                               "lr", "width", 0.1, 1e12)
    assert "No run diverged: the highest stable ratio lies above the grid's largest, 4.5." in none


@pytest.mark.parametrize("factor, phrase", [(1e12, "the criterion lies far above every catapult of this grid"),
                                            (1e4, "a run counted as diverged here may be a catapult")])
def test_margin_is_computed_from_the_factor(factor, phrase):
    text = step_size_statement(_runs(), pd.DataFrame(columns=["sweep", "group", "quantity"]), "lr", "width",
                               0.1, divergence_factor=factor)
    assert f"({factor:.3g} × L₀)" in text and phrase in text
