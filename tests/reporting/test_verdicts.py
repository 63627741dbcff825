"""The transition verdict takes three values (Yes, No, cannot tell) with their reasons, and every writer
says the same: table1.md, table1_scaling.csv and the report's statements.

Every expected number is put in by hand: runs that follow exact power laws (intervals of zero width at
the put-in exponent), runs whose two seeds lie ±d around a put-in slope (interval half width
t(0.975, 2) sqrt(2) d, from a t table), or scaling rows written with their intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ntk_linearity.pipelines import schema
from ntk_linearity.pipelines.reporting import report, tables
from ntk_linearity.pipelines.reporting.statements import sweeps as sweep_statements
from ntk_linearity.pipelines.reporting.verdicts import DECAY_SLOPE, Slope, Transition, slopes_verdict

from html_inspection import Page

REPORTING = type("R", (), {"linearity_threshold": 0.1, "confidence": 0.95, "slope_ci_method": "regression"})
T_975_2 = 4.303  # Student t quantile 0.975 with 2 degrees of freedom (printed tables)


def _run(architecture: str, seed: int, **values) -> dict:
    return {"sweep": "width_sweep", "group": architecture, "architecture": architecture, "diverged": False,
            "namespace": f"width_sweep.{architecture}_{len(values)}_{seed}_{values}", "seed": seed, **values}


def _paper_runs() -> pd.DataFrame:
    """linear_output: Delta K and ||H|| exactly ~ m^-1/2 (Yes); swish_output: both ~ m^+0.1 (No);
    softmax_output: Delta K ~ m^-1/2 but ||H|| ~ m^-1/4 x exp(+-0.01) over two seeds at m = 100, 100 e
    (interval -0.25 +- 4.303 sqrt(2) 0.01 = [-0.31, -0.19]: cannot tell); bottleneck: median Delta K
    0.25 at m_b = 4 against the threshold 0.1 (No)."""
    rows = []
    for seed in (0, 1):
        for m in (100, 1000, 10000):
            rows.append(_run("linear_output", seed, width=m, delta_k=0.5 * m**-0.5, hessian_norm_init=2 * m**-0.5,
                             ntk_diag_init=1.0))
            rows.append(_run("swish_output", seed, width=m, delta_k=0.3 * m**0.1, hessian_norm_init=m**0.1,
                             ntk_diag_init=1.0))
        for m in (100.0, 100.0 * math.e):
            noise = math.exp(0.01 if seed == 0 else -0.01)
            rows.append(_run("softmax_output", seed, width=m, delta_k=0.5 * m**-0.5,
                             hessian_norm_init=m**-0.25 * noise, ntk_diag_init=1.0))
        for m_b, delta_k in ((4, (0.3, 0.2)[seed]), (50, 0.05)):
            rows.append(_run("bottleneck", seed, width=1000, bottleneck_width=m_b, delta_k=delta_k,
                             ntk_diag_init=1.0))
    return pd.DataFrame(rows).reindex(columns=schema.RUN_COLUMNS)


EXPECTED = {  # architecture: (transition, reason), worked out by hand from the runs above
    "linear_output": ("Yes", "Delta K interval [-0.50, -0.50] and ||H|| interval [-0.50, -0.50] lie wholly below -0.25"),
    "softmax_output": ("cannot tell", "||H|| interval [-0.31, -0.19] straddles -0.25"),
    "swish_output": ("No", "Delta K interval [+0.10, +0.10] and ||H|| interval [+0.10, +0.10] lie wholly above -0.25"),
    "bottleneck": ("No", "median Delta K 0.25 at bottleneck_width = 4 above the threshold 0.1"),
}


def test_the_hand_made_straddling_interval_is_the_one_the_reason_prints():
    half = T_975_2 * math.sqrt(2) * 0.01
    assert f"[{-0.25 - half:+.2f}, {-0.25 + half:+.2f}]" == "[-0.31, -0.19]"


def test_table1_csv_and_markdown_give_each_architecture_the_same_three_valued_verdict(tmp_path):
    runs = _paper_runs()
    table = tables.scaling_table(runs, reporting_params=REPORTING)
    table.to_csv(tmp_path / "table1_scaling.csv", index=False)
    csv = pd.read_csv(tmp_path / "table1_scaling.csv")
    assert list(csv.columns) == tables.TABLE1_COLUMNS
    for architecture, (transition, reason) in EXPECTED.items():
        rows = csv[csv["architecture"] == architecture]
        assert set(rows["transition"]) == {transition} and set(rows["transition_reason"]) == {reason}, architecture
    markdown = tables.table1_markdown(table, pd.DataFrame(columns=tables.SCALING_COLUMNS), runs,
                                      reporting_params=REPORTING)
    cells = {line.split(" | ")[0].removeprefix("| "): line.split(" | ")[-1].removesuffix(" |")
             for line in markdown.splitlines() if line.startswith("| ") and line.split(" | ")[0][2:] in EXPECTED}
    assert cells == {"linear_output": "Yes", "softmax_output": r"cannot tell: \|\|H\|\| interval [-0.31, -0.19] straddles -0.25",
                     "swish_output": "No", "bottleneck": "No"}
    for architecture, (transition, reason) in EXPECTED.items():
        assert f"- **{architecture}**: {transition} ({reason})." in markdown


def _group_rows(sweep: str, group: str, architecture: str, slopes: dict) -> list[dict]:
    """Scaling rows of one group: ``quantity=(slope, low, high, n_points, n_seeds)``."""
    return [{"sweep": sweep, "group": group, "architecture": architecture, "quantity": q, "fit_against": "channels",
             "slope": v[0], "slope_ci_low": v[1], "slope_ci_high": v[2], "theory_slope": -0.5, "n_points": v[3],
             "n_seeds": v[4]} for q, v in slopes.items()]


def _conv_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A ResNet group whose ||H|| interval [-0.44, -0.22] straddles -1/4 (two channel counts), and a CNN
    group fitted on two channel counts and one seed (no interval)."""
    scaling = pd.DataFrame(
        _group_rows("resnet", "all", "resnet_linear_output",
                    {"delta_k": (-1.0, -1.2, -0.8, 2, 3), "hessian_norm": (-0.33, -0.44, -0.22, 2, 3)})
        + _group_rows("cnn", "linear", "cnn_linear_output",
                      {"delta_k": (-0.97, np.nan, np.nan, 2, 1), "hessian_norm": (-0.5, np.nan, np.nan, 2, 1)}))
    runs = pd.DataFrame([{"sweep": sweep, "group": group, "architecture": architecture, "diverged": False,
                          "delta_k": 0.1, "channels": c, "seed": 0, "namespace": f"{sweep}.{c}"}
                         for sweep, group, architecture in (("resnet", "all", "resnet_linear_output"),
                                                            ("cnn", "linear", "cnn_linear_output"))
                         for c in (4, 128)])
    return runs, scaling


def test_a_straddling_interval_and_a_missing_one_cannot_tell_and_say_why():
    runs, scaling = _conv_tables()
    assert tables.linearity_verdict(scaling, runs, 0.1, sweep="resnet", group="all") == (
        "cannot tell", "||H|| interval [-0.44, -0.22] straddles -0.25")
    assert tables.linearity_verdict(scaling, runs, 0.1, sweep="cnn", group="linear") == (
        "cannot tell", "no interval for Delta K (2 channels values, 1 seed); no interval for ||H|| (2 channels values, 1 seed)")
    markdown = tables.table1_markdown(pd.DataFrame(columns=tables.TABLE1_COLUMNS), scaling, runs,
                                      reporting_params=REPORTING)
    resnet = next(line for line in markdown.splitlines() if line.startswith("| ResNet, linear output"))
    assert resnet.endswith(r"| Yes | cannot tell: \|\|H\|\| interval [-0.44, -0.22] straddles -0.25 |")  # claimed Yes
    assert "| No |" not in markdown  # a grid too small to decide never reads as a refutation
    text = sweep_statements.sweep_statement(runs, scaling, "resnet", "channels", 0.95, 0.1)
    assert "cannot tell: ||H|| interval [-0.44, -0.22] straddles -0.25" in Page(report.markdown_to_html(text)).text


@pytest.mark.parametrize(("delta_k", "hessian", "expected"), [
    ((-0.9, -0.6), (-0.6, -0.4), ("Yes", "Delta K interval [-0.90, -0.60] and ||H|| interval [-0.60, -0.40] lie wholly below -0.25")),
    ((-0.9, -0.6), (-0.2, 0.1), ("No", "||H|| interval [-0.20, +0.10] lies wholly above -0.25")),
    ((np.nan, np.nan), (-0.1, 0.1), ("No", "||H|| interval [-0.10, +0.10] lies wholly above -0.25")),  # one decides
    ((-0.9, -0.6), (-0.3, -0.2), ("cannot tell", "||H|| interval [-0.30, -0.20] straddles -0.25")),
    ((-0.9, -0.25), (-0.6, -0.4), ("cannot tell", "Delta K interval [-0.90, -0.25] straddles -0.25")),  # an end on it
    ((-0.25, 0.1), (-0.6, -0.4), ("cannot tell", "Delta K interval [-0.25, +0.10] straddles -0.25")),
    ((np.nan, np.nan), (-0.6, -0.4), ("cannot tell", "no interval for Delta K (2 width values, 1 seed)")),
])
def test_slopes_verdict_is_yes_below_no_above_and_cannot_tell_otherwise(delta_k, hessian, expected):
    slopes = {"Delta K": Slope("Delta K", *delta_k, 2, 1, "width"), "||H||": Slope("||H||", *hessian, 3, 2, "width")}
    assert slopes_verdict(slopes) == expected
    assert DECAY_SLOPE == -0.25


def test_a_missing_fit_cannot_tell_and_the_cell_prints_the_reason():
    verdict = slopes_verdict({"Delta K": None, "||H||": Slope("||H||", -0.6, -0.4, 3, 3, "width")})
    assert verdict == ("cannot tell", "no fit of Delta K")
    assert verdict.transition is Transition.CANNOT_TELL and verdict.text == "cannot tell: no fit of Delta K"
    assert slopes_verdict({"Delta K": Slope("Delta K", -0.6, -0.4, 3, 3, "width")}).text == "Yes"


def test_the_bottleneck_rule_reads_the_narrowest_point_against_the_threshold():
    runs = _paper_runs()
    table = tables.scaling_table(runs, reporting_params=REPORTING)
    assert tables.linearity_verdict(table, runs, 0.1, architecture="bottleneck") == EXPECTED["bottleneck"]
    assert tables.linearity_verdict(table, runs, 0.3, architecture="bottleneck") == (
        "Yes", "median Delta K 0.25 at bottleneck_width = 4 at or below the threshold 0.3")
    diverged = runs.assign(diverged=runs["architecture"] == "bottleneck")
    verdict = tables.linearity_verdict(table, diverged, 0.1, architecture="bottleneck")
    assert verdict.transition is Transition.CANNOT_TELL and verdict.reason.startswith("no usable runs")
