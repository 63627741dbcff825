"""The statements of Section 3.14, linearity itself (beyond the paper): the network against its
linearisation ``f_lin(w) = f(w_0) + J(w_0)(w - w_0)`` (Section 1, Eq. 2-3; Proposition 2.1), the tangent kernel
at w_0 against its infinite-width limit Θ, and the same networks on scikit-learn's digits.

Every verdict is three-valued (:mod:`~ntk_linearity.pipelines.reporting.verdicts`): a measure *falls* with
width (Yes) when its slope interval lies wholly below :data:`~.verdicts.DECAY_SLOPE`, does not (No) when it
lies wholly above, and the grid *cannot tell* otherwise, with the reason.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ntk_linearity.experiment.parameters import Experiment
from ntk_linearity.experiment.runs import SweepSpec
from ntk_linearity.experiment.vocabulary import AXES, LINEARISATION_QUANTITIES, QUANTITIES, axis_text
from ntk_linearity.numerics.digits import DIGITS_SIZE
from ntk_linearity.pipelines.reporting.markdown import code, escape, markdown_table
from ntk_linearity.pipelines.reporting.statements.formatting import LABELS, count, num, signed, slope_cell, value_text
from ntk_linearity.pipelines.reporting.tables import fit_column, fitted_slope, slope_row, usable
from ntk_linearity.pipelines.reporting.verdicts import DECAY_SLOPE, Transition, Verdict, slopes_verdict

KERNEL_DEVIATION = "kernel_deviation"  # the vocabulary's quantity ||K(w_0) - Theta||_F / ||Theta||_F
DERIVED = "derived"  # runs.csv's kernel_limit where Theta is derived (else "not derived: <reason>")
# The verdicts' names of the measures (plain text, like the reasons of table1.md)
MEASURE_NAMES = {"linearisation_error": "linearisation error", "linearised_gap": "linearised gap",
                 KERNEL_DEVIATION: "kernel deviation"}
PREPROCESSING_TEXT = {
    "centred_sphere": "each pixel centred over the whole data set, then each image put on the sphere of radius √d",
    "raw": "grey levels divided by 16, not centred",
}


def falls_verdict(scaling: pd.DataFrame, quantity: str, sweep: str, group: str, axis: str) -> Verdict:
    """Whether ``quantity`` falls with the fit axis in one sweep group: *Yes* when its slope interval lies
    wholly below :data:`DECAY_SLOPE`, *No* when wholly above, *cannot tell* otherwise (no fit, no interval,
    an interval across the threshold), with the reason."""
    name = MEASURE_NAMES[quantity]
    return slopes_verdict({name: fitted_slope(scaling, quantity, name, axis, sweep=sweep, group=group)})


def _agreement(verdict: Verdict, theory: float) -> str:
    """How a verdict reads against a theory slope: the Taylor bound (or Θ's law of large numbers) falls
    like m^(theory); an upper bound that does not fall (theory 0) predicts no decay but forbids none."""
    if verdict.transition is Transition.CANNOT_TELL:
        return f" ({escape(verdict.reason)}): this grid neither confirms nor refutes the theory"
    if not math.isfinite(theory):
        return f" ({escape(verdict.reason)}; no theory slope for this group)"
    if theory < DECAY_SLOPE:
        tail = "as the theory requires" if verdict.transition is Transition.YES else "against the theory"
    else:
        tail = ("as the theory's bound, which does not fall, allows" if verdict.transition is Transition.NO
                else "faster than the theory's bound, which does not fall here: an upper bound need not be tight")
    return f" ({escape(verdict.reason)}), {tail}"


def _group_line(scaling: pd.DataFrame, members: pd.DataFrame, sweep: SweepSpec, group: str, quantities) -> str:
    """One bullet: a group's slopes of ``quantities`` with intervals and theory, and a verdict for each."""
    architecture = members.loc[members["group"] == group, "architecture"].iloc[0]
    parts = []
    for quantity in quantities:
        row = slope_row(scaling, quantity, sweep=sweep.name, group=group)
        verdict = falls_verdict(scaling, quantity, sweep.name, group, sweep.fit_against)
        theory = float(row["theory_slope"]) if row is not None else float("nan")
        parts.append(f"{QUANTITIES[quantity].text} {slope_cell(row)}: falls with width? **{verdict.transition}**"
                     + _agreement(verdict, theory))
    label = LABELS[architecture] + ("" if members.drop_duplicates("group")["architecture"].is_unique
                                    else f", {escape(group)}")
    return f"- **{label}** ({code(sweep.name)}): " + "; ".join(parts) + "."


def linearisation_statement(runs: pd.DataFrame, scaling: pd.DataFrame, sweeps: tuple[SweepSpec, ...],
                            confidence: float) -> str:
    """Per group of ``sweeps``: the slopes of the two linearisation measures against the sweep's axis with
    their intervals, against the slope of the Taylor bound 1/2 sup ‖H‖ ‖w − w₀‖² (−1/2 for a linear output,
    Eq. 5, 10 with ‖w − w₀‖ = Θ(1), Eq. 2; 0 for a non-linear head, Eq. 14), each with its verdict."""
    if not sweeps:
        return "No sweep of this configuration trains the networks of Fig. 1: not run in this configuration."
    lines = []
    for sweep in sweeps:
        members = runs[runs["sweep"] == sweep.name]
        if usable(members, LINEARISATION_QUANTITIES[0]).empty:
            lines.append(f"- {code(sweep.name)}: no usable run (none ran, or every run diverged): cannot tell.")
            continue
        lines += [_group_line(scaling, members, sweep, group, LINEARISATION_QUANTITIES)
                  for group in dict.fromkeys(members["group"])]
    return (f"Log–log slopes against width with {round(100 * confidence)}% intervals; the theory in parentheses "
            "is the slope of the Taylor bound, an upper bound that the measurement may beat.\n\n" + "\n".join(lines))


def taylor_bound(runs: pd.DataFrame, losses: pd.Series) -> pd.Series:
    """Per run, the Taylor bound of the linearisation error estimated from runs.csv, in the error's units:

    E = max_t ‖f(w_t) − f_lin(w_t)‖₂ / ‖f(w_T) − f(w₀)‖₂ ≤ S max_t ‖w_t − w₀‖² / (2√2 (√L₀ − √L_T)),

    from |f(w; x) − f_lin(w; x)| ≤ 1/2 S ‖w − w₀‖² per input (S the sup of ‖H‖ on the segment), summed over
    the n inputs, and ‖f(w_T) − f(w₀)‖₂ ≥ ‖y − f(w₀)‖₂ − ‖y − f(w_T)‖₂ = √(2n)(√L₀ − √L_T) for the square
    loss L = (1/2n) Σ ‖f − y‖² (Theorem 5.1). S is estimated by the largest of ``hessian_norm_init``,
    ``hessian_norm_final`` (at the probe input, the largest output) and ``path_hessian_sup`` (the path, where
    the ball analysis ran); max_t ‖w_t − w₀‖ by ``weight_change_l2`` at w_T. NaN for a run on another loss
    (``losses``: each run's, by namespace), a diverged run, or one whose loss did not fall."""
    sup = runs[["hessian_norm_init", "hessian_norm_final", "path_hessian_sup"]].apply(pd.to_numeric, errors="coerce")
    drop = np.sqrt(pd.to_numeric(runs["initial_loss"], errors="coerce")) - np.sqrt(
        pd.to_numeric(runs["final_loss"], errors="coerce"))
    bound = sup.max(axis=1) * pd.to_numeric(runs["weight_change_l2"], errors="coerce") ** 2 / (2 * math.sqrt(2) * drop)
    valid = (runs["namespace"].map(losses) == "square") & (drop > 0) & ~runs["diverged"].astype(bool)
    return bound.where(valid)


def _bound_rows(members: pd.DataFrame, fit_against: str, reporting_params) -> tuple[list[list[str]], list[str]]:
    """The bound table's rows of one sweep (medians over seeds per group and axis value) and, per group, the
    fitted slopes of the error and of the bound's estimate."""
    rows, slopes = [], []
    for group, data in members.groupby("group", sort=False):
        label = LABELS[data["architecture"].iloc[0]]
        fitted = data[(data["bound"] > 0) & (data["linearisation_error"] > 0)]  # NaN compares False
        for value, at in fitted.groupby(fit_against):
            rows.append([label, value_text(value), num(at["linearisation_error"].median()), num(at["bound"].median()),
                         num((at["linearisation_error"] / at["bound"]).median())])
        if not fitted.empty:
            error, bound = (fit_column(fitted, fit_against, column, reporting_params)
                            for column in ("linearisation_error", "bound"))
            slopes.append(f"**{label}**: error {_fit_text(error)}, bound estimate {_fit_text(bound)}")
    return rows, slopes


def _fit_text(fit) -> str:
    if not np.isfinite(fit.slope):
        return "no slope"
    if np.isfinite(fit.ci_low) and np.isfinite(fit.ci_high):
        return f"{signed(fit.slope)} [{signed(fit.ci_low)}, {signed(fit.ci_high)}]"
    return f"{signed(fit.slope)} [no interval]"


def bound_statement(experiment: Experiment, runs: pd.DataFrame, sweeps: tuple[SweepSpec, ...]) -> str:
    """The measured linearisation error against the Taylor bound's estimate from runs.csv (:func:`taylor_bound`)
    in the same units, per group and width (medians over seeds), their fitted slopes, and how many runs lie
    within the estimate; what the estimate leaves out is said, so that a ratio above 1 reads as the estimate's
    limit, not as a broken theorem."""
    losses = pd.Series({run.namespace: run.loss for run in experiment.runs})
    members = runs[runs["sweep"].isin([s.name for s in sweeps])].assign(
        bound=lambda r: taylor_bound(r, losses).to_numpy(dtype=float), linearisation_error=lambda r: pd.to_numeric(
            r["linearisation_error"], errors="coerce"))
    compared = members[np.isfinite(members["bound"]) & np.isfinite(members["linearisation_error"])]
    if compared.empty:
        return ("No run has both the linearisation error and the bound's ingredients on the square loss "
                "(none ran, every run diverged, or the loss is not the square loss): cannot tell.")
    rows, slopes = [], []
    for sweep in sweeps:
        more_rows, more_slopes = _bound_rows(members[members["sweep"] == sweep.name], sweep.fit_against,
                                             experiment.parameters.reporting)
        rows, slopes = rows + more_rows, slopes + more_slopes
    table = markdown_table(pd.DataFrame(rows, columns=["network", "m", "error E", "bound estimate B", "E / B"]))
    within = int((compared["linearisation_error"] <= compared["bound"]).sum())
    return (
        "The bound in the error's units: E ≤ S max_t ‖w_t − w₀‖² / (2√2 (√L₀ − √L_T)), from the per-input Taylor "
        "bound ½ S ‖w − w₀‖² (S the sup of ‖H‖ on the segment from w₀), summed over the n inputs, and "
        "‖f(w_T) − f(w₀)‖ ≥ √(2n)(√L₀ − √L_T) for the square loss. Its estimate B from runs.csv takes for S the "
        "largest ‖H‖ measured (at the probe input and the largest output, at w₀ and w_T, and on the path where "
        "the ball analysis ran) and for max_t ‖w_t − w₀‖ the distance at w_T; a sup over the whole segment, "
        "every input and several outputs at once (up to √C times the largest output's) can only be larger, so "
        "E / B above 1 marks where those endpoints miss the sup, not a failed bound. "
        f"{within} of {count(len(compared), 'run')} lie within the estimate (E ≤ B). Slopes against width: "
        + "; ".join(slopes) + f".\n\n{table}")


def catapult_gap_statement(runs: pd.DataFrame, sweep: SweepSpec, axis: str) -> str:
    """Where the catapult leaves the linearised model: per value of the sweep's fit axis, the linearised gap
    (median over seeds) at each value of ``axis`` (ηλ₀), and the ηλ₀ of the largest gap. Above ηλ₀ = 2 the
    linearised model's own gradient descent is unstable (its step multiplies the top mode by 1 − ηλ₀), so
    there the gap holds f_lin's growth as much as the network's departure; diverged runs are left out."""
    members = runs[runs["sweep"] == sweep.name]
    data = usable(members, "linearised_gap")
    if data.empty:
        return (f"{code(sweep.name)}: no usable linearised gap (no runs, or every run diverged): "
                "not run in this configuration.")
    lines = []
    for value, at in data.groupby(sweep.fit_against):
        gaps = at.groupby(axis)["linearised_gap"].median().sort_index()
        series = ", ".join(f"{num(gap)} at {axis_text(axis)} = {value_text(step)}" for step, gap in gaps.items())
        peak = gaps.idxmax()
        stable = gaps[gaps.index < 2]
        below = (f", {num(gaps.max() / stable.max())} times the largest below {axis_text(axis)} = 2"
                 if not stable.empty and peak >= 2 and stable.max() > 0 else "")
        lines.append(f"- {AXES[sweep.fit_against].token or axis_text(sweep.fit_against)} = {value_text(value)}: "
                     f"{series}; largest at {axis_text(axis)} = {value_text(peak)}{below}.")
    diverged = members[members["diverged"].astype(bool)]
    note = (f" {count(len(diverged), 'run')} diverged (at {axis_text(axis)} = "
            f"{', '.join(value_text(v) for v in sorted(diverged[axis].unique()))}) and {'is' if len(diverged) == 1 else 'are'} "
            "left out." if not diverged.empty else "")
    return (f"{code(sweep.name)}: the gap ‖f(w_t) − f_lin,t‖ / ‖y − f(w₀)‖ (largest over the steps) against "
            f"{axis_text(axis)}.{note} Above {axis_text(axis)} = 2 the linearised model itself is unstable, so "
            "a gap there measures its growth as much as the network leaving it.\n\n" + "\n".join(lines))


def not_derived_lines(runs: pd.DataFrame) -> list[str]:
    """One bullet per sweep group whose runs say Θ is not derived, with the recorded reason (never a number)."""
    limits = runs.get("kernel_limit", pd.Series(index=runs.index, dtype=object)).fillna("not recorded")
    out = runs.assign(kernel_limit=limits)
    out = out[out["kernel_limit"] != DERIVED].drop_duplicates(["sweep", "group", "kernel_limit"])
    return [f"- **{LABELS[row.architecture]}** ({code(row.sweep)}, {escape(row.group)}): {escape(row.kernel_limit)}"
            for row in out.itertuples(index=False)]


def kernel_limit_statement(runs: pd.DataFrame, scaling: pd.DataFrame, sweeps: tuple[SweepSpec, ...],
                           confidence: float) -> str:
    """K(w₀) against Θ: per sweep group whose runs have a derived Θ, the slope of ‖K(w₀) − Θ‖_F / ‖Θ‖_F
    against the sweep's axis with its interval and verdict (theory −1/2: K(w₀) is a mean of m i.i.d. terms
    with mean Θ, the limit of Eq. 1 as m → ∞); then every group for which Θ is not derived, with the reason."""
    limits = runs.get("kernel_limit", pd.Series(index=runs.index, dtype=object))
    derived = runs[limits == DERIVED]
    lines = []
    for sweep in sweeps:
        members = derived[derived["sweep"] == sweep.name]
        if members.empty or usable(members, QUANTITIES[KERNEL_DEVIATION].column).empty:
            continue
        lines += [_group_line(scaling, members, sweep, group, (KERNEL_DEVIATION,))
                  for group in dict.fromkeys(members["group"])]
    found = (f"Log–log slopes against each sweep's axis with {round(100 * confidence)}% intervals (theory in "
             "parentheses where the axis is the width):\n\n" + "\n".join(lines) if lines else
             "No run with a derived Θ has a usable deviation (none ran, or every run diverged): cannot tell.")
    missing = not_derived_lines(runs)
    return found + ("\n\nΘ is not derived for these groups, so they show no deviation:\n\n" + "\n".join(missing)
                    if missing else "")


def digits_setup_statement(experiment: Experiment, sweep: SweepSpec) -> str:
    """What the digits sweep ran, read from the experiment: the subset, its seed and provenance, the
    preprocessing and the targets, the sweep's axes."""
    digits = experiment.parameters.digits
    axes = "; ".join(f"{axis_text(axis)}: {', '.join(value_text(v) for v in values)}" for axis, values in sweep.axes)
    how = PREPROCESSING_TEXT.get(digits.preprocessing, "")
    return (f"{code(sweep.name)} trains on {digits.n_samples} of scikit-learn's {DIGITS_SIZE:,} digit images "
            f"(drawn with seed {digits.seed}; scikit-learn {escape(digits.provenance['scikit_learn'])}, indices' "
            f"SHA-256 {code(digits.provenance['indices_sha256'])}), preprocessing {code(digits.preprocessing)}"
            f"{f' ({how})' if how else ''}, one-hot targets of {digits.n_classes} classes (label smoothing "
            f"{value_text(digits.label_smoothing)} for the softmax head): {count(len(sweep.runs), 'run')} over "
            f"{axes}.")


def table1_rows(table1: str, sweep: str) -> str:
    """The header and the rows of ``table1.md`` (Markdown) that belong to ``sweep`` (their first cell names
    it, as :func:`~.tables.table1_markdown` writes the rows beyond the paper's), or ``""`` when none does."""
    lines = table1.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("| network")), None)
    if start is None:
        return ""
    rows = [line for line in lines[start + 2:] if line.startswith("|")
            and f"({escape(sweep)}; " in line.split(" | ")[0]]
    return "\n".join([*lines[start:start + 2], *rows]) if rows else ""
