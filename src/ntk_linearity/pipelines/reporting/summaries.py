"""The statements the report's prose makes, as pure functions of the persisted tables.

Every number, verdict and comparison in the report's text comes from here (or from
:mod:`.tables`), so each can be tested on its own, including the cases where a statement must flip.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ntk_linearity.pipelines.reporting.tables import linearity_verdict, slope_row, usable
from ntk_linearity.vocabulary import ARCHITECTURES, AXES, FIG1_ARCHITECTURES, QUANTITIES

LABELS = {name: architecture.label for name, architecture in ARCHITECTURES.items()}


def num(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (``"n/a"`` for NaN or None)."""
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def signed(value: float) -> str:
    """A slope with two decimals and a real minus sign."""
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:+.2f}".replace("-", "\u2212")


def slope_phrase(scaling: pd.DataFrame, architecture: str, quantity: str, confidence: float,
                 theory: bool = True) -> str:
    """``"fitted slope −0.93, 95% CI [−0.97, −0.89] (theory −0.50)"``."""
    row = slope_row(scaling, quantity, architecture=architecture)
    if row is None:
        return "no fitted slope (no usable runs)"
    text = (f"fitted slope {signed(row['slope'])}, {round(100 * confidence)}% CI "
            f"[{signed(row['slope_ci_low'])}, {signed(row['slope_ci_high'])}]")
    if theory and np.isfinite(row.get("theory_slope", np.nan)):
        text += f" (theory {signed(row['theory_slope'])})"
    return text


def slope_sign(scaling: pd.DataFrame, architecture: str, quantity: str) -> str:
    """``"falls"``, ``"grows"`` or ``"undetermined"``: where the slope's interval lies against 0."""
    row = slope_row(scaling, quantity, architecture=architecture)
    if row is None or not np.isfinite(row["slope_ci_high"]):
        return "undetermined"
    if row["slope_ci_high"] < 0:
        return "falls"
    if row["slope_ci_low"] > 0:
        return "grows"
    return "undetermined"


def medians(runs: pd.DataFrame, architecture: str, column: str) -> pd.Series:
    """Median of ``column`` over seeds, indexed by the sweep axis (m, or m_b for the bottleneck);
    diverged runs are left out."""
    axis = ARCHITECTURES[architecture].fit_axis
    rows = runs[(runs["architecture"] == architecture) & ~runs["diverged"].astype(bool)]
    values = pd.to_numeric(rows[column], errors="coerce")
    return values.groupby(rows[axis].astype(int)).median().sort_index()


def final_curve_values(curves: pd.DataFrame, curve: str, width: int) -> pd.DataFrame:
    """Last and largest value of every one-hidden-layer run's ``curve`` at ``width``."""
    rows = curves[(curves["curve"] == curve) & (curves["width"] == width)
                  & curves["architecture"].isin(FIG1_ARCHITECTURES)].sort_values("step")
    if rows.empty:
        return pd.DataFrame(columns=["architecture", "seed", "last_step", "final", "peak"])
    grouped = rows.groupby(["architecture", "seed"])
    return pd.DataFrame({"last_step": grouped["step"].last(), "final": grouped["value"].last(),
                         "peak": grouped["value"].max()}).reset_index()


def markdown_table(frame: pd.DataFrame) -> str:
    """A small DataFrame as a markdown table (no ``tabulate`` dependency)."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def from_to(series: pd.Series, symbol: str = "m") -> str:
    """``"0.31 at m = 30 to 0.012 at m = 10000"`` for a series indexed by the sweep axis."""
    series = series.dropna()
    if series.empty:
        return "n/a (no usable runs)"
    if len(series) == 1:
        return f"{num(series.iloc[0])} at {symbol} = {series.index[0]}"
    return (f"{num(series.iloc[0])} at {symbol} = {series.index[0]} to "
            f"{num(series.iloc[-1])} at {symbol} = {series.index[-1]}")


def slope_bound_statement(slope: float, ci_low: float, bound: float = -0.5) -> str:
    """How a fitted slope compares with the paper's upper bound O(m^bound) on the kernel change."""
    if slope is None or not np.isfinite(slope):
        return ""
    if slope <= bound:
        return f"at or below {signed(bound)}, consistent with it."
    if np.isfinite(ci_low) and ci_low <= bound:
        return f"above {signed(bound)}, but its interval includes {signed(bound)}."
    return f"above {signed(bound)} with its whole interval: flatter than the bound on this grid."


def is_monotone(final: pd.Series, peak: pd.Series) -> bool:
    """True when every curve ends at its largest value (the last snapshot is the sup over t)."""
    return bool(np.allclose(final, peak, rtol=1e-6, atol=0))


SWEEP_QUANTITIES = ("hessian_norm", "hessian_norm_final", "delta_k", "ntk_diag", "weight_change_l2",
                    "weight_change_linf")


def sweep_statement(runs: pd.DataFrame, scaling: pd.DataFrame, sweep: str, fit_against: str,
                    confidence: float, threshold: float) -> str:
    """The report's paragraph and table for one sweep: per group, the slopes of every quantity
    against the fit axis with intervals, and the transition verdict by the rule of Table 1.

    Empty, partly diverged and fully diverged sweeps give a sentence, not an error."""
    members = runs[runs["sweep"] == sweep]
    if members.empty:
        return f"The sweep `{sweep}` has no runs in this configuration."
    diverged = int(members["diverged"].astype(bool).sum())
    note = f" {diverged} of {len(members)} runs diverged and are left out of the fits." if diverged else ""
    if usable(members, "delta_k").empty:
        return f"Every run of `{sweep}` diverged or has no positive ΔK, so nothing can be fitted.{note}"
    symbol = AXES[fit_against].label.replace("$", "").replace("_", "\\_")  # TeX of the figures, as markdown
    header = ["group", *(f"{QUANTITIES[q].name}" for q in SWEEP_QUANTITIES), "transition?"]
    rows = []
    for group in dict.fromkeys(members["group"]):
        cells = []
        for quantity in SWEEP_QUANTITIES:
            row = slope_row(scaling, quantity, sweep=sweep, group=group)
            cells.append("n/a" if row is None or not np.isfinite(row.slope) else
                         f"{signed(row.slope)} [{signed(row.slope_ci_low)}, {signed(row.slope_ci_high)}]"
                         + (f" ({signed(row.theory_slope)})" if np.isfinite(row.theory_slope) else ""))
        verdict, _ = linearity_verdict(scaling, members, threshold, sweep=sweep, group=group)
        rows.append([group, *cells, verdict])
    table = markdown_table(pd.DataFrame(rows, columns=header))
    return (f"{len(members)} runs; log–log slopes against {symbol} with {round(100 * confidence)}% "
            f"intervals (theory in parentheses where the paper gives one); the verdict uses the rule of "
            f"Table 1.{note}\n\n{table}")
