"""How the report's statements write numbers, slopes and medians, shared by every section.

Values from the data are escaped where a statement writes them
(:mod:`ntk_linearity.pipelines.reporting.markdown`); the helpers here write numbers, counts, fitted
slopes with their intervals and a series of medians along a sweep's axis, and say why a set of
architectures has nothing to show.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ntk_linearity.pipelines.reporting.tables import slope_row, usable
from ntk_linearity.experiment.vocabulary import ARCHITECTURES


LABELS = {name: architecture.label for name, architecture in ARCHITECTURES.items()}


def count(n: int, noun: str) -> str:
    """``1 run``, ``3 runs``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def value_text(value) -> str:
    """An axis value as the report writes it: ``1000`` for 1000.0 (a width column is float in pandas
    when other architectures leave it empty), ``0.5`` for 0.5, text as it is."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    if not np.isfinite(value):
        return "n/a"
    return str(int(value)) if float(value).is_integer() else f"{float(value):g}"


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
    """``"fitted slope −0.93, 95% CI [−0.97, −0.89] (theory −0.50)"``; ``"fitted slope −0.93 (no
    interval: too few points)"`` when the fit has no interval; ``"no fitted slope (...)"`` without one."""
    row = slope_row(scaling, quantity, architecture=architecture)
    if row is None:
        return "no fitted slope (no usable runs)"
    if not np.isfinite(row["slope"]):
        return "no fitted slope (usable runs at a single point of the axis)"
    if np.isfinite(row["slope_ci_low"]) and np.isfinite(row["slope_ci_high"]):
        text = (f"fitted slope {signed(row['slope'])}, {round(100 * confidence)}% CI "
                f"[{signed(row['slope_ci_low'])}, {signed(row['slope_ci_high'])}]")
    else:
        text = f"fitted slope {signed(row['slope'])} (no interval: too few points)"
    if theory and np.isfinite(row.get("theory_slope", np.nan)):
        text += f" (theory {signed(row['theory_slope'])})"
    return text


def slope_sign(scaling: pd.DataFrame, architecture: str, quantity: str) -> str:
    """Where the slope's interval lies against 0: ``"falls"``, ``"grows"`` or ``"undetermined"``;
    ``"no interval"`` for a slope without one, ``"no slope"`` without a fit."""
    row = slope_row(scaling, quantity, architecture=architecture)
    if row is None or not np.isfinite(row["slope"]):
        return "no slope"
    if not (np.isfinite(row["slope_ci_low"]) and np.isfinite(row["slope_ci_high"])):
        return "no interval"
    if row["slope_ci_high"] < 0:
        return "falls"
    if row["slope_ci_low"] > 0:
        return "grows"
    return "undetermined"


def slope_cell(row: pd.Series | None) -> str:
    """``"−0.93 [−0.97, −0.89] (−0.50)"``: slope, interval, theory where known; ``"n/a"`` without a fit."""
    if row is None or not np.isfinite(row.slope):
        return "n/a"
    interval = (f"[{signed(row.slope_ci_low)}, {signed(row.slope_ci_high)}]"
                if np.isfinite(row.slope_ci_low) and np.isfinite(row.slope_ci_high) else "[no interval]")
    theory = f" ({signed(row.theory_slope)})" if np.isfinite(row.theory_slope) else ""
    return f"{signed(row.slope)} {interval}{theory}"


def medians(runs: pd.DataFrame, architecture: str, column: str) -> pd.Series:
    """Median of ``column`` over seeds, indexed by the sweep axis (m, or m_b for the bottleneck);
    diverged runs are left out."""
    axis = ARCHITECTURES[architecture].fit_axis
    rows = runs[(runs["architecture"] == architecture) & ~runs["diverged"].astype(bool)]
    values = pd.to_numeric(rows[column], errors="coerce")
    key = pd.to_numeric(rows[axis], errors="coerce")
    key = key.astype(int) if bool(np.all(np.mod(key, 1) == 0)) else key  # m = 1000, not 1000.0; alpha = 0.3
    return values.groupby(key).median().sort_index()


def from_to(series: pd.Series, symbol: str = "m") -> str:
    """``"0.31 at m = 30 to 0.012 at m = 10000"`` for a series indexed by the sweep axis."""
    series = series.dropna()
    if series.empty:
        return "n/a (no usable runs)"
    if len(series) == 1:
        return f"{num(series.iloc[0])} at {symbol} = {series.index[0]}"
    return (f"{num(series.iloc[0])} at {symbol} = {series.index[0]} to "
            f"{num(series.iloc[-1])} at {symbol} = {series.index[-1]}")


def _names(architectures) -> str:
    """``"linear output networks"``, ``"linear output, swish output and softmax output networks"``."""
    labels = [LABELS[a] for a in architectures]
    return (labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}") + " networks"


def unavailable(runs: pd.DataFrame, architectures, column: str, what: str) -> str:
    """Why no run of ``architectures`` has a ``column`` to draw or fit (``""`` when some has): none
    in this configuration, every one diverged, or no positive value (``what`` names the column)."""
    members = runs[runs["architecture"].isin(architectures)]
    names = _names(architectures)
    if members.empty:
        return f"There are no runs of the {names} in this configuration."
    if not usable(members, column).empty:
        return ""
    n_diverged = int(members["diverged"].astype(bool).sum())
    if n_diverged == len(members):
        return f"Every run of the {names} diverged ({count(len(members), 'run')}), so there is no {what} to show."
    return (f"No run of the {names} has a positive {what} ({n_diverged} of {len(members)} runs diverged), "
            "so there is nothing to show.")


def left_out(runs: pd.DataFrame, architectures) -> str:
    """``" 2 of 6 runs of the linear output diverged and are left out."`` (``""`` when none did)."""
    members = runs[runs["architecture"].isin(architectures)]
    n_diverged = int(members["diverged"].astype(bool).sum())
    if not n_diverged:
        return ""
    return f" {n_diverged} of {len(members)} runs of the {_names(architectures)} diverged and are left out."
