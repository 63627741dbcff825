"""The statements the report's prose makes, as pure functions of the persisted tables.

Every number, verdict and comparison in the report's text comes from here (or from
:mod:`.tables`), so each can be tested on its own, including the cases where a statement must flip.
Each section's statement holds for a sweep with no runs, with some runs diverged (left out of every
median and fit) and with every run diverged: it then says so in a sentence. Values from the data,
the configuration or the environment are escaped (:mod:`.markdown`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ntk_linearity.pipelines.reporting.markdown import code, escape, markdown_table
from ntk_linearity.pipelines.reporting.tables import DECAY_SLOPE, linearity_verdict, slope_row, usable
from ntk_linearity.experiment.vocabulary import ARCHITECTURES, AXES, FIG1_ARCHITECTURES, QUANTITIES

LABELS = {name: architecture.label for name, architecture in ARCHITECTURES.items()}


def count(n: int, noun: str) -> str:
    """``1 run``, ``3 runs``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


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


def medians(runs: pd.DataFrame, architecture: str, column: str) -> pd.Series:
    """Median of ``column`` over seeds, indexed by the sweep axis (m, or m_b for the bottleneck);
    diverged runs are left out."""
    axis = ARCHITECTURES[architecture].fit_axis
    rows = runs[(runs["architecture"] == architecture) & ~runs["diverged"].astype(bool)]
    values = pd.to_numeric(rows[column], errors="coerce")
    key = pd.to_numeric(rows[axis], errors="coerce")
    key = key.astype(int) if bool(np.all(np.mod(key, 1) == 0)) else key  # m = 1000, not 1000.0; alpha = 0.3
    return values.groupby(key).median().sort_index()


def final_curve_values(curves: pd.DataFrame, curve: str, width: int) -> pd.DataFrame:
    """Last and largest value of every one-hidden-layer run's ``curve`` at ``width``."""
    rows = curves[(curves["curve"] == curve) & (curves["width"] == width)
                  & curves["architecture"].isin(FIG1_ARCHITECTURES)].sort_values("step")
    if rows.empty:
        return pd.DataFrame(columns=["architecture", "seed", "last_step", "final", "peak"])
    grouped = rows.groupby(["architecture", "seed"])
    return pd.DataFrame({"last_step": grouped["step"].last(), "final": grouped["value"].last(),
                         "peak": grouped["value"].max()}).reset_index()


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
    if not np.isfinite(ci_low):
        return f"above {signed(bound)}, with no interval to tell whether it is flatter than the bound."
    if ci_low <= bound:
        return f"above {signed(bound)}, but its interval includes {signed(bound)}."
    return f"above {signed(bound)} with its whole interval: flatter than the bound on this grid."


def is_monotone(final: pd.Series, peak: pd.Series) -> bool:
    """True when every curve ends at its largest value (the last snapshot is the sup over t)."""
    return bool(np.allclose(final, peak, rtol=1e-6, atol=0))


SWEEP_QUANTITIES = ("hessian_norm", "hessian_norm_final", "delta_k", "ntk_diag", "weight_change_l2",
                    "weight_change_linf", "hessian_ratio")


def _slope_cell(row: pd.Series | None) -> str:
    """``"−0.93 [−0.97, −0.89] (−0.50)"``: slope, interval, theory where known; ``"n/a"`` without a fit."""
    if row is None or not np.isfinite(row.slope):
        return "n/a"
    interval = (f"[{signed(row.slope_ci_low)}, {signed(row.slope_ci_high)}]"
                if np.isfinite(row.slope_ci_low) and np.isfinite(row.slope_ci_high) else "[no interval]")
    theory = f" ({signed(row.theory_slope)})" if np.isfinite(row.theory_slope) else ""
    return f"{signed(row.slope)} {interval}{theory}"


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
        cells = [_slope_cell(slope_row(scaling, quantity, sweep=sweep, group=group))
                 for quantity in SWEEP_QUANTITIES]
        verdict, _ = linearity_verdict(scaling, members, threshold, sweep=sweep, group=group)
        rows.append([group, *cells, verdict])
    table = markdown_table(pd.DataFrame(rows, columns=header))
    return (f"{count(len(members), 'run')}; log–log slopes against {symbol} with {round(100 * confidence)}% "
            f"intervals (theory in parentheses where the paper gives one); the verdict uses the rule of "
            f"Table 1.{note}\n\n{table}")


CONV_FAMILIES = ("cnn", "resnet")


def image_data_statement(images: dict, sweeps: dict) -> str:
    """The Setup's bullet on the image data of the convolutional sweeps (``""`` when no sweep trains a
    convolutional network), from the ``images`` parameter group."""
    if not any(sweep["family"] in CONV_FAMILIES for sweep in sweeps.values()):
        return ""
    e = {key: escape(value) for key, value in images.items()}
    return (f"- **Images** (the convolutional sweeps; synthetic, seed {e['seed']}): n = {e['n_samples']} smooth "
            f"random images of {e['height']} × {e['width']} pixels and {e['channels']} channel(s): white noise "
            f"low-pass filtered by a Gaussian of width s = {e['smoothness']} pixels (neighbouring pixels "
            "correlate like exp(−δ²/4s²)), each image rescaled to mean square 1. Regression targets "
            "y = A sin(ω⟨U, x⟩/√(HWC)) for a fixed smooth random template U, an odd function of the image, "
            f"with A = {e['target_amplitude']} and ω = {e['target_frequency']}; soft labels "
            f"softmax(T⟨U_c, x⟩/√(HWC)) over {e['n_classes']} smooth templates U_c with "
            f"T = {e['class_temperature']}. The networks read them through k × k convolutions (stride 1, zero "
            "padding, no biases, each pre-activation divided by √(k² C_in)); their width is the number of "
            "channels C.\n")


def claims_in(sweep: dict) -> bool:
    """Whether a sweep (as :func:`~ntk_linearity.pipelines.reporting.report.report_parameters` describes
    it) trains an architecture about which the paper makes a claim outside its Table 1 (Appendix H)."""
    return any(ARCHITECTURES[a].claim is not None for a in sweep["architectures"] if a in ARCHITECTURES)


def claim_statement(runs: pd.DataFrame, scaling: pd.DataFrame, sweep: str, confidence: float,
                    threshold: float) -> str:
    """One bullet per group of a sweep whose architecture carries a claim of the paper (Appendix H):
    the claim, the measured slopes of ||H||, K(x, x) and Delta K against the sweep's axis with their
    intervals, and the verdict by the rule of Table 1, said to agree with the claim or not."""
    members = runs[runs["sweep"] == sweep]
    lines = []
    for group in dict.fromkeys(members["group"]):
        spec = ARCHITECTURES[members.loc[members["group"] == group, "architecture"].iloc[0]]
        if spec.claim is None:
            continue
        verdict, _ = linearity_verdict(scaling, members, threshold, sweep=sweep, group=group)
        intervals = [slope_row(scaling, q, sweep=sweep, group=group) for q in ("delta_k", "hessian_norm")]
        untestable = spec.verdict_rule == "slopes" and any(
            row is None or not np.isfinite(row.slope_ci_high) for row in intervals)
        agreement = ("no usable runs" if verdict == "n/a" else
                     "but the grid is too small to test the claim (a slope without an interval)" if untestable else
                     "as claimed" if verdict == spec.claim.transition else "against the claim")
        slopes = ", ".join(f"{name} {_slope_cell(slope_row(scaling, quantity, sweep=sweep, group=group))}"
                           for name, quantity in (("‖H‖", "hessian_norm"), ("K(x, x)", "ntk_diag"),
                                                  ("ΔK", "delta_k")))
        lines.append(f"- **{spec.label}** ({spec.source}; claimed: ‖H‖ = {spec.claim.hessian_norm}, "
                     f"tangent kernel {spec.claim.ntk}, transition to linearity {spec.claim.transition}): "
                     f"slopes against {AXES[spec.fit_axis].token} "
                     f"({round(100 * confidence)}% intervals, theory in parentheses) {slopes}; measured "
                     f"transition **{verdict}**, {agreement}.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The report's sections, one statement each
# ---------------------------------------------------------------------------------------------


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


def provenance_statement(metadata: dict, runs: pd.DataFrame) -> str:
    """Where the results come from: rendering time, Kedro environment, git revision, runs per sweep."""
    git = metadata.get("git") or {}
    commit = git.get("commit")
    revision = (f"commit {code(str(commit)[:10])}" + (" (uncommitted changes)" if git.get("dirty") else "")
                if commit else escape(git.get("note") or "no git revision"))
    per_sweep = runs.groupby("sweep", sort=False).size()
    networks = f"{len(runs)} trained networks"
    if len(per_sweep):
        networks += " (" + ", ".join(f"{n} in {code(name)}" for name, n in per_sweep.items()) + ")"
    n_diverged = int(runs["diverged"].astype(bool).sum())
    if n_diverged:
        networks += f", {n_diverged} of which diverged"
    return (f"Rendered {escape(metadata.get('generated_at', 'n/a'))} from the results of the Kedro environment "
            f"{code(metadata.get('conf_env', 'n/a'))}, {revision}: {networks}.")


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
    lin = medians(runs, "linear_output", "delta_k")
    text = unavailable(runs, ("linear_output",), "delta_k", "ΔK")
    if not text:
        text = (f"For the **linear output layer** the median ΔK over seeds goes from {from_to(lin)}: "
                f"{slope_phrase(scaling, 'linear_output', 'delta_k', confidence)}. "
                f"{SIGN_VERDICTS[slope_sign(scaling, 'linear_output', 'delta_k')]}")
        row = slope_row(scaling, "delta_k", architecture="linear_output")
        if row is not None and np.isfinite(row["slope"]):
            text += (" The paper's O(1/√m) bounds the kernel change from above; the slope's point estimate is "
                     + slope_bound_statement(row["slope"], row["slope_ci_low"]))
    others = [f"the **{LABELS[a]}** ΔK goes from {from_to(medians(runs, a, 'delta_k'))} "
              f"({slope_phrase(scaling, a, 'delta_k', confidence, theory=False)})"
              for a in ("swish_output", "softmax_output") if not medians(runs, a, "delta_k").dropna().empty]
    if others:
        text += " For the non-linear heads, " + "; ".join(others) + " (theory: slope 0, ΔK = Θ(1))."
    widest = int(runs.loc[runs["architecture"].isin(FIG1_ARCHITECTURES), "width"].max())
    if widest in lin.dropna().index and lin[widest] > 0:
        ratios = [f"the {LABELS[a]} kernel moves {num(medians(runs, a, 'delta_k')[widest] / lin[widest], 2)}×"
                  for a in ("swish_output", "softmax_output")
                  if widest in medians(runs, a, "delta_k").dropna().index]
        if ratios:
            text += f" At the largest width, m = {widest}, {' and '.join(ratios)} as much as the linear output's."
    linear_runs = runs[(runs["architecture"] == "linear_output") & ~runs["diverged"].astype(bool)]
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
    absent = unavailable(runs, ("bottleneck",), "delta_k", "ΔK")
    if absent:
        return absent
    med = medians(runs, "bottleneck", "delta_k").dropna()
    values = ", ".join(f"{num(v)} at {MB} = {mb}" for mb, v in med.items())
    outer = int(runs.loc[runs["architecture"] == "bottleneck", "width"].iloc[0])
    text = (f"With the wide layers at m = {outer}, the median ΔK over seeds is {values} "
            f"({slope_phrase(scaling, 'bottleneck', 'delta_k', confidence, theory=False)} against {MB}).")
    lin = medians(runs, "linear_output", "delta_k").dropna()
    if outer in lin.index and lin[outer] > 0:
        text += (f" The one-hidden-layer linear network of the same width m = {outer} has ΔK {num(lin[outer])}: "
                 f"the narrowest bottleneck moves the kernel {num(med.iloc[0] / lin[outer], 2)}× as much.")
    side = "above" if med.iloc[0] > threshold else "below"
    return (text + left_out(runs, ("bottleneck",))
            + f" At the narrowest bottleneck ΔK is {side} the threshold {threshold} used for Table 1's verdict. "
            f"The paper predicts ΔK to fall as {MB} grows and to stay Θ(1) for a small {MB} however wide the "
            "other layers are.")


HESSIAN_ARCHITECTURES = (*FIG1_ARCHITECTURES, "bottleneck")


def hessian_statement(runs: pd.DataFrame, scaling: pd.DataFrame, confidence: float) -> str:
    """Section 3.4 (Table 1, E4): the fitted exponents of ‖H‖ and K(x, x) at initialisation."""
    absent = unavailable(runs, HESSIAN_ARCHITECTURES, "hessian_norm_init", "‖H‖")
    if absent:
        return absent
    lines = []
    for arch in ("linear_output", "swish_output", "softmax_output", "bottleneck"):
        members = runs[runs["architecture"] == arch]
        if members.empty:
            continue
        axis = MB if arch == "bottleneck" else "m"
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
    absent = unavailable(runs, ("linear_output",), "weight_change_l2", "weight change")
    if absent:
        return absent
    l2 = medians(runs, "linear_output", "weight_change_l2")
    linf = medians(runs, "linear_output", "weight_change_linf")
    return (f"For the linear output layer the Euclidean distance travelled ‖w* − w₀‖₂ goes from "
            f"{from_to(l2)} ({slope_phrase(scaling, 'linear_output', 'weight_change_l2', confidence)}), while the "
            f"largest single-weight change ‖w* − w₀‖∞ goes from {from_to(linf)} "
            f"({slope_phrase(scaling, 'linear_output', 'weight_change_linf', confidence)}). Small changes of "
            "individual weights do not make the model linear: the quadratic Taylor term (w − w₀)ᵀH(w − w₀) "
            "is controlled by the Euclidean distance and ‖H‖ (Section 1)." + left_out(runs, ("linear_output",)))


# ---------------------------------------------------------------------------------------------
# Appendix B (parameterisation) and Appendix A (output scaling)
# ---------------------------------------------------------------------------------------------


SLOPE_TOLERANCE = 0.05  # slopes closer than this are equal at the two decimals the report shows


def slopes_agree(first: pd.Series | None, second: pd.Series | None) -> str:
    """Whether two fitted slopes agree: ``"agree"`` when their intervals overlap or the slopes differ by
    less than :data:`SLOPE_TOLERANCE` (very narrow intervals of equal-looking slopes), ``"differ"``
    otherwise, ``"cannot tell"`` when either has no slope or no interval."""
    rows = (first, second)
    if any(r is None or not (np.isfinite(r.slope_ci_low) and np.isfinite(r.slope_ci_high)) for r in rows):
        return "cannot tell"
    overlap = first.slope_ci_low <= second.slope_ci_high and second.slope_ci_low <= first.slope_ci_high
    return "agree" if overlap or abs(first.slope - second.slope) < SLOPE_TOLERANCE else "differ"


def decays(row: pd.Series | None) -> bool | None:
    """Whether a slope's whole interval lies below −1/4 (the rule of Table 1's verdicts); ``None`` when it
    has no interval."""
    if row is None or not (np.isfinite(row.slope_ci_high)):
        return None
    return bool(row.slope_ci_high < DECAY_SLOPE)


def _falls(row: pd.Series | None) -> str:
    verdict = decays(row)
    return ("cannot tell (no interval)" if verdict is None else
            "falls" if verdict else "does not fall (interval reaches above −0.25)")


PARAMETERIZATION_QUANTITIES = (("ΔK", "delta_k"), ("‖H‖/K(x, x)", "hessian_ratio"), ("K(x, x)", "ntk_diag"),
                               ("‖H‖", "hessian_norm"))
PARAMETERIZATION_NAMES = {"ntk": "NTK", "standard": "standard"}


def _nothing_to_fit(members: pd.DataFrame, sweeps, axis: str) -> str | None:
    """Why the runs ``members`` of ``sweeps`` (those varying ``axis``) give no fit, or ``None``."""
    names = ", ".join(code(s) for s in sweeps)
    if members.empty:
        return (f"The sweep {names} has no runs in this configuration." if len(sweeps)
                else f"No sweep of this configuration varies the {axis}.")
    if usable(members, "delta_k").empty:
        return f"Every run of {names} diverged or has no positive ΔK, so nothing can be fitted."
    return None


def parameterization_statement(runs: pd.DataFrame, scaling: pd.DataFrame, sweeps, confidence: float) -> str:
    """The paper's Appendix B measured: per head, the slopes against width of ΔK, the scale-free
    ‖H‖/K(x, x), K(x, x) and ‖H‖ in the NTK and in the standard parameterisation (``sweeps``: those with
    a ``parameterization`` axis), whether the ΔK and ratio slopes agree between the two (intervals
    overlap), and whether the conclusion (which heads become linear) is the same in both."""
    members = runs[runs["sweep"].isin(sweeps)]
    if (reason := _nothing_to_fit(members, sweeps, "parameterisation")) is not None:
        return reason
    lines, same_conclusion = [], []
    for (sweep, head), rows in members.groupby(["sweep", "head"], sort=False):
        groups = {p: g["group"].iloc[0] for p, g in rows.groupby("parameterization", sort=False)}
        fits = {p: {q: slope_row(scaling, q, sweep=sweep, group=group) for _, q in PARAMETERIZATION_QUANTITIES}
                for p, group in groups.items()}
        parts = []
        for name, quantity in PARAMETERIZATION_QUANTITIES:
            cells = "; ".join(f"{PARAMETERIZATION_NAMES.get(p, p)} {_slope_cell(f[quantity])}" for p, f in fits.items())
            agreement = ""
            if {"ntk", "standard"} <= fits.keys() and quantity in ("delta_k", "hessian_ratio"):
                verdict = slopes_agree(fits["ntk"][quantity], fits["standard"][quantity])
                agreement = (": whether they agree cannot be told (no interval)" if verdict == "cannot tell"
                             else f": they **{verdict}**")
            parts.append(f"{name} {cells}{agreement}")
        widest = rows[~rows["diverged"].astype(bool)]
        if len(widest):
            m = int(widest["width"].max())
            ratios = widest[widest["width"] == m].groupby("parameterization", sort=False)["hessian_ratio_init"].median()
            parts.append(f"median ‖H‖/K(x, x) at m = {m}: " + ", ".join(
                f"{num(v)} ({PARAMETERIZATION_NAMES.get(p, p)})" for p, v in ratios.items()))
        lines.append(f"- **{escape(head)} output** ({code(sweep)}): " + ". ".join(parts) + ".")
        if {"ntk", "standard"} <= fits.keys():
            same_conclusion.append((head, decays(fits["ntk"]["delta_k"]), decays(fits["standard"]["delta_k"])))
    text = (f"Log–log slopes against the width m with {round(100 * confidence)}% intervals (theory in parentheses), "
            "at the same η·λ₀ in both parameterisations; two slopes agree when their intervals overlap or they "
            f"differ by less than {SLOPE_TOLERANCE}:\n\n" + "\n".join(lines))
    known = [(h, a, b) for h, a, b in same_conclusion if a is not None and b is not None]
    if known:
        falls = {True: "falls", False: "does not fall"}
        verdicts = [f"the {escape(h)} output's ΔK {falls[a]} with width in both parameterisations" if a == b else
                    f"the {escape(h)} output's ΔK {falls[a]} with width in the NTK and {falls[b]} in the standard "
                    "parameterisation" for h, a, b in known]
        holds = all(a == b for _, a, b in known)
        sentence = "; ".join(verdicts)
        text += ("\n\n" + sentence[0].upper() + sentence[1:] + " (whole interval of its slope below −0.25 or not). "
                 + ("The paper's conclusion holds in both parameterisations: the same heads become linear. "
                    if holds else "The conclusion changes with the parameterisation on this grid. ")
                 + "Where the exponents differ: the standard parameterisation multiplies each layer's kernel term "
                 "by its fan-in (d for the first layer, m for the readout) and each Hessian block by "
                 "√(fan-in · fan-in′), so with fan-ins d ≠ m the kernel and the Hessian are not rescaled by one "
                 "common factor; and with λ₀ ∝ m one learning rate η ∝ 1/m makes the first layer's steps, in the "
                 "NTK network's coordinates, d/m times those of the readout.")
    return text


def output_scaling_statement(runs: pd.DataFrame, scaling: pd.DataFrame, table1: pd.DataFrame, sweeps,
                             confidence: float) -> str:
    """The paper's Appendix A and Section 4 ("lazy training fails to explain constancy") measured: per
    non-linear head of ``sweeps`` (those with an ``output_scale`` axis), ΔK and ‖w* − w₀‖₂ against the
    output scale alpha at a fixed width; beside them ΔK and ‖w* − w₀‖₂ against width at alpha = 1 (the
    width sweep's Table 1 architectures); and whether scaling and width freeze the same kernels."""
    members = runs[runs["sweep"].isin(sweeps)]
    if (reason := _nothing_to_fit(members, sweeps, "output scale")) is not None:
        return reason
    lines, by_alpha = [], {}
    for (sweep, group), rows in members.groupby(["sweep", "group"], sort=False):
        architecture, head = rows["architecture"].iloc[0], rows["head"].iloc[0]
        widths = ", ".join(str(int(w)) for w in sorted(rows["width"].unique()))
        delta_k = slope_row(scaling, "delta_k", sweep=sweep, group=group)
        weights = slope_row(scaling, "weight_change_l2", sweep=sweep, group=group)
        by_alpha[head] = decays(delta_k)
        lines.append(f"- **{escape(head)} output** scaled by α at m = {widths} ({code(sweep)}): median ΔK goes from "
                     f"{from_to(medians(rows, architecture, 'delta_k'), 'α')} (slope {_slope_cell(delta_k)}: "
                     f"{_falls(delta_k)}); ‖w* − w₀‖₂ from {from_to(medians(rows, architecture, 'weight_change_l2'), 'α')} "
                     f"(slope {_slope_cell(weights)}).")
    by_width = {}
    for architecture in FIG1_ARCHITECTURES:
        row = slope_row(table1, "delta_k", architecture=architecture)
        if row is None:
            continue
        head = architecture.removesuffix("_output")
        by_width[head] = decays(row)
        lines.append(f"- **{LABELS[architecture]}** widened at α = 1 (the width sweep): median ΔK goes from "
                     f"{from_to(medians(runs, architecture, 'delta_k'))} (slope {_slope_cell(row)}: {_falls(row)}); "
                     f"‖w* − w₀‖₂ slope {_slope_cell(slope_row(table1, 'weight_change_l2', architecture=architecture))}.")
    text = (f"Log–log slopes with {round(100 * confidence)}% intervals (theory in parentheses); a quantity "
            "falls when the whole interval of its slope lies below −0.25 (the rule of Table 1):\n\n" + "\n".join(lines))
    scaled = [h for h, v in by_alpha.items() if v]
    nonlinear_width = {h: v for h, v in by_width.items() if h != "linear" and h in by_alpha}
    needed = [*by_alpha.values(), *nonlinear_width.values(), by_width.get("linear")]
    if by_alpha and nonlinear_width and any(v is None for v in needed):
        text += ("\n\nThis grid cannot make the comparison of the paper's Section 4: a slope it needs has no "
                 "interval (too few points).")
    elif by_alpha and nonlinear_width:
        argument = all(by_alpha.values()) and not any(nonlinear_width.values()) and by_width["linear"]
        text += ("\n\n" + (
            "Scaling the output freezes the kernel of the non-linear heads (" + ", ".join(escape(h) for h in scaled)
            + ") because the weights move less (‖w* − w₀‖₂ falls with α); at α = 1 their kernels do not freeze with "
            "width, and the linear output's does while its weights still move Θ(1). Width is therefore not "
            "the lazy-training effect of a scaled output: the paper's Section 4 argument holds on this grid."
            if argument else
            "On this grid the measurements do not separate the two effects as the paper argues (Section 4): see "
            "the verdicts above."))
    return text


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
        at_width = group if arch == "bottleneck" else group[group["width"] == width]
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
    """Section 3.14: what the grid, the snapshots and the stopped or diverged runs limit."""
    shallow = runs[runs["architecture"].isin(FIG1_ARCHITECTURES)]
    notes = []
    if not shallow.empty:
        widths = sorted(shallow["width"].unique())
        notes.append(
            f"The width sweep has {len(widths)} widths ({', '.join(str(w) for w in widths)}) and "
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


def metadata_table(metadata: dict, runs: pd.DataFrame) -> pd.DataFrame:
    """Section 4: the run metadata and the summed wall times, as plain text (``item``, ``value``)."""
    git = metadata.get("git") or {}
    commit = git.get("commit")
    jax_info = metadata.get("jax") or {}
    wall = pd.to_numeric(runs["wall_seconds"], errors="coerce")
    hessian_wall = pd.to_numeric(runs["hessian_wall_seconds"], errors="coerce")
    by_sweep = wall.groupby(runs["sweep"]).sum()
    per_sweep = f" ({', '.join(f'{s}: {num(v)} s' for s, v in by_sweep.items())})" if len(by_sweep) else ""
    items = [
        ("rendered", metadata.get("generated_at", "n/a")),
        ("Kedro environment", metadata.get("conf_env", "n/a")),
        ("git", f"{commit}" + (" with uncommitted changes" if git.get("dirty") else "") if commit
         else git.get("note") or "n/a"),
        ("Python", f"{metadata.get('python', 'n/a')} on {metadata.get('platform', 'n/a')}"),
        ("packages", ", ".join(f"{k} {v}" for k, v in (metadata.get("packages") or {}).items())),
        ("JAX devices (process that rendered this report)",
         f"{', '.join(map(str, jax_info.get('devices', [])))} (backend {jax_info.get('backend', 'n/a')})"),
        ("training wall time", f"{num(wall.sum())} s summed over {int(wall.notna().sum())} runs{per_sweep}"),
        ("Hessian analysis wall time",
         f"{num(hessian_wall.sum())} s summed over {int(hessian_wall.notna().sum())} runs"),
    ]
    return pd.DataFrame(items, columns=["item", "value"])


# ---------------------------------------------------------------------------------------------
# The step size across the linearised stability limit (catapult) and Theorem 5.1's rate
# ---------------------------------------------------------------------------------------------

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
            f"ΔK slope vs {token}": _slope_cell(slope_row(scaling, "delta_k", sweep=sweep, group=group["group"].iloc[0])),
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
    ratios = sorted(members[STEP_SIZE_AXIS].unique())

    def below(edge: float) -> str:  # the grid point just below an edge, to bracket it
        lower = [r for r in ratios if r < edge]
        return f" (the next lower value of the grid, {num(lower[-1])}, does not)" if lower else " (the smallest of the grid)"

    parts = []
    if np.isfinite(edges["loss_rises"]):
        parts.append(f"the loss rises above L₀ from **ηλ₀ = {num(edges['loss_rises'])}** on{below(edges['loss_rises'])}")
    else:
        parts.append("the loss never rises above L₀ at any ratio of the grid")
    if np.isfinite(edges["kernel_moves"]):
        parts.append(f"ΔK exceeds {threshold} from ηλ₀ = {num(edges['kernel_moves'])} on{below(edges['kernel_moves'])}")
    else:
        parts.append(f"ΔK stays below {threshold} at every ratio of the grid")
    text = (f"At the largest {token} = {high:g} (medians over seeds), " + "; ".join(parts)
            + ". The linearised model of the square loss is stable exactly below ηλ₀ = 2.")
    if np.isfinite(edges["first_diverged"]):
        stable = (f"the highest ratio with no diverged run is **ηλ₀ = {num(edges['highest_stable'])}**"
                  if np.isfinite(edges["highest_stable"]) else "every ratio of the grid has a diverged run")
        text += (f" Gradient descent diverges from ηλ₀ = {num(edges['first_diverged'])} on (at least one run); "
                 f"{stable}.")
    else:
        text += f" No run diverged: the highest stable ratio lies above the grid's largest, {num(ratios[-1])}."
    done = members[~members["diverged"].astype(bool) & members["converged"].astype(bool)]
    ends = pd.to_numeric(done["eta_lambda_max_final"], errors="coerce").dropna()
    if len(ends):
        text += (f" Every run that converged ends with ηλ_max(K_T/n) ≤ {num(ends.max())}"
                 + (" < 2: above the limit the kernel's top eigenvalue fell until GD was stable (the catapult)."
                    if ends.max() < 2 else "."))
    growth = []
    for ratio, group in members.groupby(STEP_SIZE_AXIS):
        row = slope_row(scaling, "loss_peak_ratio", sweep=sweep, group=group["group"].iloc[0])
        if row is not None and np.isfinite(row.slope) and _median_at(group, "loss_peak_ratio", fit_against, high) > 1:
            growth.append(f"{signed(row.slope)} at ηλ₀ = {num(ratio)}")
    if growth:
        text += (f" The catapult's peak grows with the width: log–log slopes of max_t L_t / L₀ against {token} "
                 f"{', '.join(growth)} (the residual grows until its square is of order m, where the kernel's "
                 "O(r²/m) change turns it back).")
    peaks = pd.to_numeric(members.loc[~members["diverged"].astype(bool), "loss_peak_ratio"], errors="coerce").dropna()
    if len(peaks) and peaks.max() > 1:
        margin = divergence_factor / peaks.max()
        text += (f" The largest peak of a run that came back is {num(peaks.max())} × L₀, a factor {num(margin, 2)} "
                 f"below the divergence criterion ({num(divergence_factor)} × L₀) of this sweep"
                 + (": the criterion lies far above every catapult of this grid." if margin >= CATAPULT_MARGIN else
                    f", less than {CATAPULT_MARGIN:g}: a catapult's peak grows with the width, so a run counted as "
                    "diverged here may be a catapult the criterion stopped (raise the sweep's divergence_factor)."))
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
