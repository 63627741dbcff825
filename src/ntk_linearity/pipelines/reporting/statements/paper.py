"""The statements on the paper's own networks (Section 3 of the report: Fig. 1, Fig. 2, Table 1's
exponents, the weight change, convergence) and the caveats of the grid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ntk_linearity.pipelines.reporting.markdown import markdown_table
from ntk_linearity.pipelines.reporting.statements.formatting import (
    LABELS,
    count,
    from_to,
    left_out,
    medians,
    num,
    signed,
    slope_phrase,
    slope_sign,
    unavailable,
    value_text,
)
from ntk_linearity.pipelines.reporting.tables import slope_row
from ntk_linearity.experiment.vocabulary import BOTTLENECK, FIG1_ARCHITECTURES, LINEAR_HEAD, NONLINEAR_HEADS


def final_curve_values(curves: pd.DataFrame, curve: str, width: int) -> pd.DataFrame:
    """Last and largest value of every one-hidden-layer run's ``curve`` at ``width``."""
    rows = curves[(curves["curve"] == curve) & (curves["width"] == width)
                  & curves["architecture"].isin(FIG1_ARCHITECTURES)].sort_values("step")
    if rows.empty:
        return pd.DataFrame(columns=["architecture", "seed", "last_step", "final", "peak"])
    grouped = rows.groupby(["architecture", "seed"])
    return pd.DataFrame({"last_step": grouped["step"].last(), "final": grouped["value"].last(),
                         "peak": grouped["value"].max()}).reset_index()


def slope_bound_statement(slope: float, ci_low: float, bound: float = -0.5) -> str:
    """How a fitted slope compares with the paper's upper bound O(m^bound) on the kernel change."""
    if slope is None or not np.isfinite(slope):
        return ""
    if slope <= bound:
        return f"at or below {signed(bound)}, consistent with it."
    if not np.isfinite(ci_low):
        return f"above {signed(bound)}, with no interval to tell whether it is flatter than the bound."
    if ci_low <= bound:
        return f"above {signed(bound)}, but its interval includes {signed(bound)}."
    return f"above {signed(bound)} with its whole interval: flatter than the bound on this grid."


def is_monotone(final: pd.Series, peak: pd.Series) -> bool:
    """True when every curve ends at its largest value (the last snapshot is the sup over t)."""
    return bool(np.allclose(final, peak, rtol=1e-6, atol=0))


SIGN_VERDICTS = {
    "falls": "The whole interval lies below zero: the kernel change shrinks as the network widens.",
    "grows": "The interval lies above zero: on this grid the kernel change grows with width, against the theory.",
    "undetermined": "The interval contains zero: this grid cannot tell whether ΔK falls with width.",
    "no interval": "The slope has no interval, so this grid cannot tell whether ΔK falls with width.",
    "no slope": "There is no slope: the usable runs do not span two widths.",
}


def kernel_width_statement(runs: pd.DataFrame, scaling: pd.DataFrame, confidence: float) -> str:
    """Section 3.1 (Fig. 1 left): ΔK against width for the linear head and the non-linear heads."""
    absent = unavailable(runs, FIG1_ARCHITECTURES, "delta_k", "ΔK")
    if absent:
        return absent
    lin = medians(runs, LINEAR_HEAD, "delta_k")
    text = unavailable(runs, (LINEAR_HEAD,), "delta_k", "ΔK")
    if not text:
        text = (f"For the **linear output layer** the median ΔK over seeds goes from {from_to(lin)}: "
                f"{slope_phrase(scaling, LINEAR_HEAD, 'delta_k', confidence)}. "
                f"{SIGN_VERDICTS[slope_sign(scaling, LINEAR_HEAD, 'delta_k')]}")
        row = slope_row(scaling, "delta_k", architecture=LINEAR_HEAD)
        if row is not None and np.isfinite(row["slope"]):
            text += (" The paper's O(1/√m) bounds the kernel change from above; the slope's point estimate is "
                     + slope_bound_statement(row["slope"], row["slope_ci_low"]))
    others = [f"the **{LABELS[a]}** ΔK goes from {from_to(medians(runs, a, 'delta_k'))} "
              f"({slope_phrase(scaling, a, 'delta_k', confidence, theory=False)})"
              for a in NONLINEAR_HEADS if not medians(runs, a, "delta_k").dropna().empty]
    if others:
        text += " For the non-linear heads, " + "; ".join(others) + " (theory: slope 0, ΔK = Θ(1))."
    widest = int(runs.loc[runs["architecture"].isin(FIG1_ARCHITECTURES), "width"].max())
    if widest in lin.dropna().index and lin[widest] > 0:
        ratios = [f"the {LABELS[a]} kernel moves {num(medians(runs, a, 'delta_k')[widest] / lin[widest], 2)}×"
                  for a in NONLINEAR_HEADS
                  if widest in medians(runs, a, "delta_k").dropna().index]
        if ratios:
            text += f" At the largest width, m = {widest}, {' and '.join(ratios)} as much as the linear output's."
    linear_runs = runs[(runs["architecture"] == LINEAR_HEAD) & ~runs["diverged"].astype(bool)]
    if len(linear_runs):
        below = int((linear_runs["delta_k"] <= linear_runs["delta_k_noise_floor"]).sum())
        text += (f" {below} of {len(linear_runs)} linear-head runs have ΔK at or below their float32 noise floor"
                 + (" (crosses in the figure): those values are not resolved." if below else
                    ", so the measured changes are not round-off."))
    return text + left_out(runs, FIG1_ARCHITECTURES)


def kernel_time_statement(runs: pd.DataFrame, curves: pd.DataFrame, width: int) -> str:
    """Section 3.2 (Fig. 1 right): where ΔK(t) ends at ``width`` (``reporting.time_curve_width``)."""
    at_width = runs[runs["architecture"].isin(FIG1_ARCHITECTURES) & (runs["width"] == width)]
    n_diverged = int(at_width["diverged"].astype(bool).sum())
    ends = final_curve_values(curves, "delta_k", width)
    if ends.empty:
        if at_width.empty:
            return (f"No one-hidden-layer run has width m = {width} (`reporting.time_curve_width`), "
                    "so there is no curve.")
        return f"Every one-hidden-layer run at m = {width} diverged ({count(len(at_width), 'run')}), so there is no curve."
    summary = ends.groupby("architecture").agg(final=("final", "median"), steps=("last_step", "median"))
    parts = [f"{num(r.final)} for the {LABELS[arch]}" for arch, r in summary.iterrows()]
    monotone = is_monotone(ends["final"], ends["peak"])
    steps = ", ".join(str(s) for s in sorted({int(s) for s in summary["steps"]}))
    return (f"At m = {width}, after {steps} steps, the kernel change ends at {', '.join(parts)} (medians over "
            "seeds). "
            + (f"{n_diverged} of {len(at_width)} runs at this width diverged and have no curve. "
               if n_diverged else "")
            + ("Every curve ends at its largest value, so ΔK of Fig. 1 (left) is the kernel change at the end of "
               "training. " if monotone else
               "Some curves peak before the end of training; ΔK of Fig. 1 (left) is the largest value along each "
               "curve. ")
            + "The theory predicts the linear head's curve to stay flat and low at large m, and the non-linear "
            "heads' curves to rise to Θ(1) whatever the width.")


MB = "m\\_b"  # the bottleneck width, its underscore escaped for Markdown


def bottleneck_statement(runs: pd.DataFrame, scaling: pd.DataFrame, confidence: float, threshold: float) -> str:
    """Section 3.3 (Fig. 2): ΔK against the bottleneck width, beside the one-hidden-layer network."""
    absent = unavailable(runs, (BOTTLENECK,), "delta_k", "ΔK")
    if absent:
        return absent
    med = medians(runs, BOTTLENECK, "delta_k").dropna()
    values = ", ".join(f"{num(v)} at {MB} = {mb}" for mb, v in med.items())
    outer = int(runs.loc[runs["architecture"] == BOTTLENECK, "width"].iloc[0])
    text = (f"With the wide layers at m = {outer}, the median ΔK over seeds is {values} "
            f"({slope_phrase(scaling, BOTTLENECK, 'delta_k', confidence, theory=False)} against {MB}).")
    lin = medians(runs, LINEAR_HEAD, "delta_k").dropna()
    if outer in lin.index and lin[outer] > 0:
        text += (f" The one-hidden-layer linear network of the same width m = {outer} has ΔK {num(lin[outer])}: "
                 f"the narrowest bottleneck moves the kernel {num(med.iloc[0] / lin[outer], 2)}× as much.")
    side = "above" if med.iloc[0] > threshold else "below"
    return (text + left_out(runs, (BOTTLENECK,))
            + f" At the narrowest bottleneck ΔK is {side} the threshold {threshold} used for Table 1's verdict. "
            f"The paper predicts ΔK to fall as {MB} grows and to stay Θ(1) for a small {MB} however wide the "
            "other layers are.")


HESSIAN_ARCHITECTURES = (*FIG1_ARCHITECTURES, BOTTLENECK)


def hessian_statement(runs: pd.DataFrame, scaling: pd.DataFrame, confidence: float) -> str:
    """Section 3.4 (Table 1, E4): the fitted exponents of ‖H‖ and K(x, x) at initialisation."""
    absent = unavailable(runs, HESSIAN_ARCHITECTURES, "hessian_norm_init", "‖H‖")
    if absent:
        return absent
    lines = []
    for arch in (LINEAR_HEAD, *NONLINEAR_HEADS, BOTTLENECK):
        members = runs[runs["architecture"] == arch]
        if members.empty:
            continue
        axis = MB if arch == BOTTLENECK else "m"
        missing = unavailable(members, (arch,), "hessian_norm_init", "‖H‖")
        if missing:
            lines.append(f"- {missing}")
            continue
        lines.append(f"- **{LABELS[arch]}** (against {axis}): "
                     f"‖H‖ {slope_phrase(scaling, arch, 'hessian_norm', confidence)}; "
                     f"K(x, x) {slope_phrase(scaling, arch, 'ntk_diag', confidence)}.")
    return ("Fitted exponents at initialisation, with the theory of Table 1 in parentheses (−1/2 for ‖H‖ with a "
            "linear output, 0 with a non-linear one; 0 for K(x, x) everywhere); diverged runs are left out:\n\n"
            + "\n".join(lines))


def weight_change_statement(runs: pd.DataFrame, scaling: pd.DataFrame, confidence: float) -> str:
    """Section 3.6 (E5): the distance travelled by the weights of the linear head, ℓ2 against ℓ∞."""
    absent = unavailable(runs, (LINEAR_HEAD,), "weight_change_l2", "weight change")
    if absent:
        return absent
    l2 = medians(runs, LINEAR_HEAD, "weight_change_l2")
    linf = medians(runs, LINEAR_HEAD, "weight_change_linf")
    return (f"For the linear output layer the Euclidean distance travelled ‖w* − w₀‖₂ goes from "
            f"{from_to(l2)} ({slope_phrase(scaling, LINEAR_HEAD, 'weight_change_l2', confidence)}), while the "
            f"largest single-weight change ‖w* − w₀‖∞ goes from {from_to(linf)} "
            f"({slope_phrase(scaling, LINEAR_HEAD, 'weight_change_linf', confidence)}). Small changes of "
            "individual weights do not make the model linear: the quadratic Taylor term (w − w₀)ᵀH(w − w₀) "
            "is controlled by the Euclidean distance and ‖H‖ (Section 1)." + left_out(runs, (LINEAR_HEAD,)))


def run_outcomes(runs: pd.DataFrame) -> tuple[int, int, int]:
    """How many runs reached the tolerance, stopped at the step limit, and diverged."""
    diverged = runs["diverged"].astype(bool)
    converged = runs["converged"].astype(bool) & ~diverged
    return int(converged.sum()), int((~converged & ~diverged).sum()), int(diverged.sum())


def convergence_table(runs: pd.DataFrame, width: int) -> pd.DataFrame:
    """Section 3.7 (E6): per network, runs reaching the tolerance and diverged, and the median losses
    and steps of the runs at ``width`` (every bottleneck run) that did not diverge."""
    rows = []
    for arch in HESSIAN_ARCHITECTURES:
        group = runs[runs["architecture"] == arch]
        if group.empty:
            continue
        at_width = group if arch == BOTTLENECK else group[group["width"] == width]
        done = at_width[~at_width["diverged"].astype(bool)]
        converged, _, diverged = run_outcomes(group)
        factor = (done["initial_loss"] / done["final_loss"]).median() if len(done) else np.nan
        rows.append({
            "network": LABELS[arch],
            "runs reaching tol (all widths)": f"{converged} of {len(group)}",
            "diverged": diverged,
            "median L(w0)": num(done["initial_loss"].median()) if len(done) else "n/a",
            "median final loss": num(done["final_loss"].median()) if len(done) else "n/a",
            "loss reduction": f"{num(factor)}×" if np.isfinite(factor) else "n/a",
            "median steps": int(done["steps"].median()) if len(done) else "n/a",
        })
    return pd.DataFrame(rows)


def convergence_statement(runs: pd.DataFrame, width: int, tol: float, max_steps: int) -> str:
    """Section 3.7 (E6): how many runs converged, stopped or diverged, and :func:`convergence_table`."""
    if runs.empty:
        return "There are no runs in this configuration."
    converged, stopped, diverged = run_outcomes(runs)
    counts = f"{converged} of {len(runs)} runs reached the tolerance L ≤ {tol} within {max_steps} steps"
    if stopped:
        counts += f"; {stopped} stopped at the step limit"
    if diverged:
        counts += f"; {diverged} diverged (left out of the losses below)"
    table = convergence_table(runs, width)
    return (f"{counts}. Losses below are medians over the runs at m = {width} (all bottleneck runs for the "
            "bottleneck network). Theorem 5.1 predicts exponential convergence for the swish and softmax heads "
            "although their kernels move by Θ(1) (3.1 and 3.2 above)."
            + (f"\n\n{markdown_table(table)}" if len(table) else ""))


def caveats(runs: pd.DataFrame, n_snapshots: int) -> list[str]:
    """Section 3.15: what the grid, the snapshots and the stopped or diverged runs limit."""
    shallow = runs[runs["architecture"].isin(FIG1_ARCHITECTURES)]
    notes = []
    if not shallow.empty:
        widths = sorted(shallow["width"].unique())
        notes.append(
            f"The width sweep has {len(widths)} widths ({', '.join(value_text(w) for w in widths)}) and "
            f"{shallow['seed'].nunique()} seeds; each slope is a least-squares fit through these points, so its "
            "interval is only as good as the grid"
            + (" (with fewer than four widths, treat the slopes as indicative)." if len(widths) < 4 else "."))
    notes.append("ΔK is the largest kernel change over the snapshots taken, and λ_min along the path (Theorem 5.1's "
                 "rate) the smallest eigenvalue of K_t/n over them, not over every step; the snapshots "
                 f"are log-spaced ({n_snapshots} per run unless a sweep sets its own).")
    _, stopped, diverged = run_outcomes(runs)
    if stopped:
        notes.append(f"{stopped} of {len(runs)} runs stopped at the step limit before reaching the tolerance: "
                     "their ΔK and weight changes describe the path up to that step, not to the minimiser.")
    if diverged:
        notes.append(f"{diverged} of {len(runs)} runs diverged: they are in no median, fit, verdict or curve, "
                     "so a statement about a grid point may rest on fewer seeds than configured.")
    notes.append("‖H‖ and K(x, x) are measured at a single input x and at initialisation (Table 1 concerns w₀).")
    return notes
