"""The statements on the step size across the linearised stability limit (the catapult) and on
Theorem 5.1's rate along the path."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ntk_linearity.pipelines.reporting.markdown import code, escape, markdown_table
from ntk_linearity.pipelines.reporting.statements.formatting import left_out, num, signed, slope_cell
from ntk_linearity.pipelines.reporting.tables import slope_row, usable
from ntk_linearity.experiment.vocabulary import AXES


STEP_SIZE_AXIS = "eta_lambda0"


# How far the divergence criterion must lie above the largest catapult peak that came back before the
# report trusts it not to stop catapults (a peak grows like m L_0: a decade or two of width).
CATAPULT_MARGIN = 100.0


def step_size_sweeps(sweeps: dict) -> dict:
    """The sweeps (as the report's parameters describe them) with an ``eta_lambda0`` axis."""
    return {name: sweep for name, sweep in sweeps.items() if STEP_SIZE_AXIS in sweep["axes"]}


def _median_at(runs: pd.DataFrame, column: str, axis: str, value) -> float:
    """Median of ``column`` over the runs (not diverged) at ``axis = value``; NaN without one."""
    rows = runs[(runs[axis] == value) & ~runs["diverged"].astype(bool)]
    return float(pd.to_numeric(rows[column], errors="coerce").median()) if len(rows) else np.nan


def step_size_table(runs: pd.DataFrame, scaling: pd.DataFrame, sweep: str, fit_against: str) -> pd.DataFrame:
    """One row per eta * lambda_0 of a sweep: runs diverged, the median peak loss over L_0 and Delta K
    at the smallest and the largest ``fit_against`` value, the Delta K slope against it (from
    ``scaling.csv``) and the median eta lambda_max(K_T/n) at the end at the largest value."""
    members = runs[runs["sweep"] == sweep]
    if members.empty:
        return pd.DataFrame()
    low, high = members[fit_against].min(), members[fit_against].max()
    token = AXES[fit_against].token or fit_against
    rows = []
    for ratio, group in members.groupby(STEP_SIZE_AXIS):
        rows.append({
            "ηλ₀": f"{ratio:g}",
            "diverged": f"{int(group['diverged'].astype(bool).sum())} of {len(group)}",
            f"peak L/L₀, {token} = {low:g}": num(_median_at(group, "loss_peak_ratio", fit_against, low)),
            f"peak L/L₀, {token} = {high:g}": num(_median_at(group, "loss_peak_ratio", fit_against, high)),
            f"ΔK, {token} = {low:g}": num(_median_at(group, "delta_k", fit_against, low)),
            f"ΔK, {token} = {high:g}": num(_median_at(group, "delta_k", fit_against, high)),
            f"ΔK slope vs {token}": slope_cell(slope_row(scaling, "delta_k", sweep=sweep, group=group["group"].iloc[0])),
            f"η λ_max(K_T/n), {token} = {high:g}": num(_median_at(group, "eta_lambda_max_final", fit_against, high)),
        })
    return pd.DataFrame(rows)


def critical_ratios(runs: pd.DataFrame, sweep: str, fit_against: str, threshold: float) -> dict[str, float]:
    """The measured edges of a step-size sweep, as eta * lambda_0 (NaN where the grid has none):

    * ``loss_rises``: the smallest ratio at which the loss rises above L_0 (median over seeds of
      max_t L_t / L_0 above 1 at the largest ``fit_against`` value);
    * ``kernel_moves``: the smallest ratio at which the kernel moves by Theta(1) there (median Delta K
      above ``threshold``, the threshold of Table 1's bottleneck verdict);
    * ``highest_stable``: the largest ratio at and below which no run diverged (at any width or seed);
    * ``first_diverged``: the smallest ratio at which some run diverged."""
    members = runs[runs["sweep"] == sweep]
    result = dict.fromkeys(("loss_rises", "kernel_moves", "highest_stable", "first_diverged"), np.nan)
    if members.empty:
        return result
    high = members[fit_against].max()
    ratios = sorted(members[STEP_SIZE_AXIS].unique())
    peak = {r: _median_at(members[members[STEP_SIZE_AXIS] == r], "loss_peak_ratio", fit_against, high) for r in ratios}
    moved = {r: _median_at(members[members[STEP_SIZE_AXIS] == r], "delta_k", fit_against, high) for r in ratios}
    result["loss_rises"] = next((r for r in ratios if peak[r] > 1), np.nan)
    result["kernel_moves"] = next((r for r in ratios if moved[r] > threshold), np.nan)
    diverged = {r: bool(members.loc[members[STEP_SIZE_AXIS] == r, "diverged"].astype(bool).any()) for r in ratios}
    result["first_diverged"] = next((r for r in ratios if diverged[r]), np.nan)
    stable = [r for r in ratios if not np.isfinite(result["first_diverged"]) or r < result["first_diverged"]]
    result["highest_stable"] = stable[-1] if stable else np.nan
    return result


def _bracket(ratios: list[float], edge: float) -> str:
    """The grid point just below an edge of the grid's ``ratios``, to bracket it."""
    lower = [r for r in ratios if r < edge]
    return f" (the next lower value of the grid, {num(lower[-1])}, does not)" if lower else " (the smallest of the grid)"


def _edges_text(edges: dict[str, float], ratios: list[float], threshold: float, token: str, high) -> str:
    """Where the loss rises and the kernel moves at the largest ``token`` = ``high``, against the
    linearised limit 2, and where gradient descent diverges (:func:`critical_ratios`' ``edges``)."""
    parts = []
    if np.isfinite(edges["loss_rises"]):
        parts.append(f"the loss rises above L₀ from **ηλ₀ = {num(edges['loss_rises'])}** on"
                     f"{_bracket(ratios, edges['loss_rises'])}")
    else:
        parts.append("the loss never rises above L₀ at any ratio of the grid")
    if np.isfinite(edges["kernel_moves"]):
        parts.append(f"ΔK exceeds {threshold} from ηλ₀ = {num(edges['kernel_moves'])} on"
                     f"{_bracket(ratios, edges['kernel_moves'])}")
    else:
        parts.append(f"ΔK stays below {threshold} at every ratio of the grid")
    text = (f"At the largest {token} = {high:g} (medians over seeds), " + "; ".join(parts)
            + ". The linearised model of the square loss is stable exactly below ηλ₀ = 2.")
    if not np.isfinite(edges["first_diverged"]):
        return text + f" No run diverged: the highest stable ratio lies above the grid's largest, {num(ratios[-1])}."
    stable = (f"the highest ratio with no diverged run is **ηλ₀ = {num(edges['highest_stable'])}**"
              if np.isfinite(edges["highest_stable"]) else "every ratio of the grid has a diverged run")
    return text + (f" Gradient descent diverges from ηλ₀ = {num(edges['first_diverged'])} on (at least one run); "
                   f"{stable}.")


def _sharpness_text(members: pd.DataFrame) -> str:
    """Where eta lambda_max(K_T/n) ends for the runs that converged (``""`` without one)."""
    done = members[~members["diverged"].astype(bool) & members["converged"].astype(bool)]
    ends = pd.to_numeric(done["eta_lambda_max_final"], errors="coerce").dropna()
    if not len(ends):
        return ""
    return (f" Every run that converged ends with ηλ_max(K_T/n) ≤ {num(ends.max())}"
            + (" < 2: above the limit the kernel's top eigenvalue fell until GD was stable (the catapult)."
               if ends.max() < 2 else "."))


def _peak_growth_text(members: pd.DataFrame, scaling: pd.DataFrame, sweep: str, fit_against: str, high,
                      token: str) -> str:
    """The slope of the catapult's peak loss against width (written ``token``) at every eta * lambda_0
    whose loss rises at the largest ``fit_against`` = ``high`` (``""`` when none has a slope)."""
    growth = []
    for ratio, group in members.groupby(STEP_SIZE_AXIS):
        row = slope_row(scaling, "loss_peak_ratio", sweep=sweep, group=group["group"].iloc[0])
        if row is not None and np.isfinite(row.slope) and _median_at(group, "loss_peak_ratio", fit_against, high) > 1:
            growth.append(f"{signed(row.slope)} at ηλ₀ = {num(ratio)}")
    if not growth:
        return ""
    return (f" The catapult's peak grows with the width: log–log slopes of max_t L_t / L₀ against {token} "
            f"{', '.join(growth)} (the residual grows until its square is of order m, where the kernel's "
            "O(r²/m) change turns it back).")


def _margin_text(members: pd.DataFrame, divergence_factor: float) -> str:
    """How far the divergence criterion lies above the largest peak of a run that came back (``""``
    when no loss rose above L_0)."""
    peaks = pd.to_numeric(members.loc[~members["diverged"].astype(bool), "loss_peak_ratio"], errors="coerce").dropna()
    if not (len(peaks) and peaks.max() > 1):
        return ""
    margin = divergence_factor / peaks.max()
    return (f" The largest peak of a run that came back is {num(peaks.max())} × L₀, a factor {num(margin, 2)} "
            f"below the divergence criterion ({num(divergence_factor)} × L₀) of this sweep"
            + (": the criterion lies far above every catapult of this grid." if margin >= CATAPULT_MARGIN else
               f", less than {CATAPULT_MARGIN:g}: a catapult's peak grows with the width, so a run counted as "
               "diverged here may be a catapult the criterion stopped (raise the sweep's divergence_factor)."))


def step_size_statement(runs: pd.DataFrame, scaling: pd.DataFrame, sweep: str, fit_against: str,
                        threshold: float, divergence_factor: float) -> str:
    """The report's paragraph on a step-size sweep: the measured critical ratio (loss rises, kernel
    moves by Theta(1)) against the linearised limit 2, the highest stable ratio, where lambda_max
    ends, how far the divergence criterion lies above the catapults' peaks, and the table of
    :func:`step_size_table`."""
    members = runs[runs["sweep"] == sweep]
    if members.empty:
        return f"The sweep {code(sweep)} has no runs in this configuration."
    token = AXES[fit_against].token or fit_against
    high = members[fit_against].max()
    if usable(members, "delta_k").empty:
        return (f"Every run of {code(sweep)} diverged ({len(members)} runs) or has no positive ΔK: the smallest "
                f"ηλ₀ of the grid, {num(members[STEP_SIZE_AXIS].min())}, is already beyond the stable range.")
    edges = critical_ratios(runs, sweep, fit_against, threshold)
    text = (_edges_text(edges, sorted(members[STEP_SIZE_AXIS].unique()), threshold, token, high)
            + _sharpness_text(members) + _peak_growth_text(members, scaling, sweep, fit_against, high, token)
            + _margin_text(members, divergence_factor))
    table = step_size_table(runs, scaling, sweep, fit_against)
    return text + left_out(members, members["architecture"].unique()) + f"\n\n{markdown_table(table)}"


def rate_statement(runs: pd.DataFrame, sweep: str) -> str:
    """Theorem 5.1 along the path of each group of a sweep: the median of min_t lambda_min(K_t/n), of
    the fitted exponential rate of the loss tail and of its ratio to eta lambda_min, and how many runs
    reach the guaranteed rate (ratio >= 1)."""
    members = runs[runs["sweep"] == sweep]
    data = usable(members, "loss_rate")
    data = data[np.isfinite(pd.to_numeric(data["loss_rate_over_eta_lambda_min"], errors="coerce"))]
    if data.empty:
        return f"No run of {code(sweep)} has a fitted loss rate and a positive λ_min (or every run diverged)."
    lines = []
    for group, rows in data.groupby("group", sort=False):
        ratio = pd.to_numeric(rows["loss_rate_over_eta_lambda_min"])
        lines.append(f"- **{escape(group)}**: λ_min(K_0/n) {num(rows['lambda_min_init'].median())} at w₀, "
                     f"min_t λ_min(K_t/n) {num(rows['lambda_min_path'].median())}, fitted rate "
                     f"{num(rows['loss_rate'].median())} per step, rate / (η λ_min) {num(ratio.median())} (median; "
                     f"{int((ratio >= 1).sum())} of {len(rows)} runs at or above 1, range {num(ratio.min())} to "
                     f"{num(ratio.max())}).")
    return ("The rate compared is the fitted exponential rate r of the loss, L_t ∝ exp(−r t), on the last half of "
            "each run's steps, against η λ_min with λ_min = min over the kernel snapshots of λ_min(K(w_t)/n). "
            "With the loss averaged over the n samples, λ_min(K/n) is the PL constant μ of Theorem 5.1, whose Eq. 15 "
            "then reads L_{t+1} ≤ (1 − ημ) L_t, a rate of at least −ln(1 − ημ) ≥ ημ; a linear model's slowest "
            "eigen-direction decays at −2 ln(1 − ηλ_min) ≈ 2ηλ_min (the loss is the square of the residual). So "
            "r / (ηλ_min) ≥ 1 where the theorem's small-step assumption holds, about 2 once the slowest direction "
            "alone is left, and larger when the run reaches the tolerance before that (the residual's share along "
            "the slowest direction is small). For the softmax head K is nC × nC with n exact null directions "
            "(the C probabilities of a sample sum to one), so λ_min is taken on the residuals whose C components "
            "sum to zero, the only ones p − y can be.\n\n" + "\n".join(lines))
