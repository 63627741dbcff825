"""The statements on any sweep (one table of slopes per sweep: the depth and convolutional sweeps
and every other), on the paper's claims outside its Table 1 (Appendix H), and on the ball of
Proposition 2.2."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ntk_linearity.pipelines.reporting.markdown import code, escape, markdown_table
from ntk_linearity.pipelines.reporting.statements.formatting import LABELS, count, num, signed, slope_cell
from ntk_linearity.pipelines.reporting.tables import linearity_verdict, slope_row, usable
from ntk_linearity.pipelines.reporting.verdicts import Transition
from ntk_linearity.experiment.vocabulary import ARCHITECTURES, AXES, QUANTITIES


SWEEP_QUANTITIES = ("hessian_norm", "hessian_norm_final", "delta_k", "ntk_diag", "weight_change_l2",
                    "weight_change_linf", "hessian_ratio")


def sweep_statement(runs: pd.DataFrame, scaling: pd.DataFrame, sweep: str, fit_against: str,
                    confidence: float, threshold: float) -> str:
    """The report's paragraph and table for one sweep: per group, the slopes of every quantity
    against the fit axis with intervals, and the transition verdict by the rule of Table 1.

    Empty, partly diverged and fully diverged sweeps give a sentence, not an error."""
    members = runs[runs["sweep"] == sweep]
    if members.empty:
        return f"The sweep {code(sweep)} has no runs in this configuration."
    diverged = int(members["diverged"].astype(bool).sum())
    note = f" {diverged} of {len(members)} runs diverged and are left out of the fits." if diverged else ""
    if usable(members, "delta_k").empty:
        return f"Every run of {code(sweep)} diverged or has no positive ΔK, so nothing can be fitted.{note}"
    symbol = AXES[fit_against].label.replace("$", "").replace("_", "\\_")  # TeX of the figures, as markdown
    header = ["group", *(f"{QUANTITIES[q].name}" for q in SWEEP_QUANTITIES), "transition?"]
    rows = []
    for group in dict.fromkeys(members["group"]):
        cells = [slope_cell(slope_row(scaling, quantity, sweep=sweep, group=group))
                 for quantity in SWEEP_QUANTITIES]
        rows.append([group, *cells, linearity_verdict(scaling, members, threshold, sweep=sweep, group=group).text])
    table = markdown_table(pd.DataFrame(rows, columns=header))
    return (f"{count(len(members), 'run')}; log–log slopes against {symbol} with {round(100 * confidence)}% "
            f"intervals (theory in parentheses where the paper gives one); the verdict uses the rule of "
            f"Table 1.{note}\n\n{table}")


def claims_in(sweep: dict) -> bool:
    """Whether a sweep (as :func:`~ntk_linearity.pipelines.reporting.report.report_parameters` describes
    it) trains an architecture about which the paper makes a claim outside its Table 1 (Appendix H)."""
    return any(ARCHITECTURES[a].claim is not None for a in sweep["architectures"] if a in ARCHITECTURES)


def claim_statement(runs: pd.DataFrame, scaling: pd.DataFrame, sweep: str, confidence: float,
                    threshold: float) -> str:
    """One bullet per group of a sweep whose architecture carries a claim of the paper (Appendix H):
    the claim, the measured slopes of ||H||, K(x, x) and Delta K against the sweep's axis with their
    intervals, and the verdict by the rule of Table 1, said to agree with the claim or not; a grid that
    cannot tell (no interval, or one across the threshold) says why and neither confirms nor refutes."""
    members = runs[runs["sweep"] == sweep]
    lines = []
    for group in dict.fromkeys(members["group"]):
        spec = ARCHITECTURES[members.loc[members["group"] == group, "architecture"].iloc[0]]
        if spec.claim is None:
            continue
        verdict, reason = linearity_verdict(scaling, members, threshold, sweep=sweep, group=group)
        agreement = (f" ({escape(reason)}): this grid neither confirms nor refutes the claim"
                     if verdict is Transition.CANNOT_TELL else
                     ", as claimed" if verdict == spec.claim.transition else ", against the claim")
        slopes = ", ".join(f"{name} {slope_cell(slope_row(scaling, quantity, sweep=sweep, group=group))}"
                           for name, quantity in (("‖H‖", "hessian_norm"), ("K(x, x)", "ntk_diag"),
                                                  ("ΔK", "delta_k")))
        lines.append(f"- **{spec.label}** ({spec.source}; claimed: ‖H‖ = {spec.claim.hessian_norm}, "
                     f"tangent kernel {spec.claim.ntk}, transition to linearity {spec.claim.transition}): "
                     f"slopes against {AXES[spec.fit_axis].token} "
                     f"({round(100 * confidence)}% intervals, theory in parentheses) {slopes}; measured "
                     f"transition **{verdict}**{agreement}.")
    return "\n".join(lines)


def ball_statement(ball: pd.DataFrame, scaling: pd.DataFrame, runs: pd.DataFrame, confidence: float) -> str:
    """The ball of Proposition 2.2: whether every measured kernel change is within its explicit bound
    (the ratio at most 1 at every point; a violation is named as a bug), the slope of sup ‖H‖ in the
    ball against width per architecture and radius, and the path's own numbers (R*, the kernel
    change at w* against its bound) at the widest width."""
    if ball.empty:
        n_ball = int(pd.to_numeric(runs.get("ball_ratio_max", pd.Series(dtype=float)), errors="coerce").notna().sum())
        return ("No run of this configuration has the ball analysis (a sweep's `ball:` block switches it on)."
                if n_ball == 0 else "The runs with the ball analysis measured no point (they diverged).")
    n_runs, n_points = ball["namespace"].nunique(), len(ball)
    worst = ball.loc[ball["ratio"].idxmax()]
    above = ball[ball["ratio"] > 1]
    if above.empty:
        text = (f"At all {n_points} points of {n_runs} runs (ball samples and path points) the measured kernel "
                f"change is within the bound: the largest ratio of measured change to bound is {num(worst['ratio'])} "
                f"({escape(worst['namespace'])}, {escape(worst['kind'])} point at distance {num(worst['distance'])}). ")
    else:
        names = ", ".join(sorted({escape(n) for n in above["namespace"]}))
        text = (f"**{len(above)} of {n_points} points exceed the bound (largest ratio {num(worst['ratio'])}): this is a "
                f"bug to find, not a result** ({names}). ")
    text += (f"The step that rests on the sampled sup, ‖g_x(w) − g_x(w₀)‖ ≤ sup ‖H_x‖ ‖w − w₀‖, has its largest ratio "
             f"{num(ball['gradient_ratio'].max())}.")
    lines = []
    rows = scaling[scaling["quantity"] == "ball_hessian_sup"]
    for architecture, members in rows.groupby("architecture", sort=False):
        fits = []
        for row in members.itertuples(index=False):
            radius = str(row.group).split("R = ", 1)[-1]
            interval = (f" [{signed(row.slope_ci_low)}, {signed(row.slope_ci_high)}]"
                        if np.isfinite(row.slope_ci_low) and np.isfinite(row.slope_ci_high) else " (no interval)")
            fits.append(f"R = {escape(radius)}: {signed(row.slope)}{interval}")
        theory = members["theory_slope"].iloc[0]
        lines.append(f"- **{LABELS[architecture]}**: sup ‖H‖ in the ball against width, "
                     f"{'; '.join(fits)} (theory {signed(theory)}, {round(100 * confidence)}% intervals).")
    path = ball[ball["kind"] == "path"]
    if not path.empty:
        widest = path[path["width"] == path["width"].max()]
        ends = widest.loc[widest.groupby("namespace")["s"].idxmax()]
        for architecture, members in ends.groupby("architecture", sort=False):
            lines.append(f"- **{LABELS[architecture]}** at w* (m = {int(members['width'].iloc[0])}): R* = "
                         f"‖w* − w₀‖₂ = {num(members['distance'].median())}, sup ‖H‖ on the path "
                         f"{num(members['hessian_sup'].median())}, kernel change {num(members['kernel_change'].median())} "
                         f"against the bound {num(members['kernel_bound'].median())} (medians over seeds).")
    return text + ("\n\n" + "\n".join(lines) if lines else "")
