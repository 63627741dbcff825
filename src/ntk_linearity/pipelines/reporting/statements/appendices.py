"""The statements on the paper's Appendix B (the parameterisation) and Appendix A with Section 4
(the output scale against the width)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ntk_linearity.pipelines.reporting.markdown import code, escape
from ntk_linearity.pipelines.reporting.statements.formatting import LABELS, from_to, medians, num, slope_cell
from ntk_linearity.pipelines.reporting.tables import slope_row, usable
from ntk_linearity.pipelines.reporting.verdicts import Slope, side
from ntk_linearity.experiment.vocabulary import FIG1_ARCHITECTURES


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


def _side(row: pd.Series | None) -> str:
    """Where a slope's interval lies against −1/4 (:func:`~..verdicts.side`, the rule of Table 1's verdicts)."""
    return "none" if row is None else side(Slope("", float(row.slope_ci_low), float(row.slope_ci_high), 0, 0, ""))


def decays(row: pd.Series | None) -> bool | None:
    """Whether a slope's whole interval lies below −1/4 (``True``) or above it (``False``), as in Table 1's
    verdicts; ``None`` when it cannot tell: no interval, or an interval that contains −1/4."""
    return {"below": True, "above": False}.get(_side(row))


def _falls(row: pd.Series | None) -> str:
    return {"below": "falls", "above": "does not fall (interval above −0.25)",
            "straddles": "cannot tell (interval straddles −0.25)"}.get(_side(row), "cannot tell (no interval)")


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
            cells = "; ".join(f"{PARAMETERIZATION_NAMES.get(p, p)} {slope_cell(f[quantity])}" for p, f in fits.items())
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
        text += ("\n\n" + sentence[0].upper() + sentence[1:]
                 + " (whole interval of its slope below or above −0.25; a head whose interval straddles it is left out). "
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
                     f"{from_to(medians(rows, architecture, 'delta_k'), 'α')} (slope {slope_cell(delta_k)}: "
                     f"{_falls(delta_k)}); ‖w* − w₀‖₂ from {from_to(medians(rows, architecture, 'weight_change_l2'), 'α')} "
                     f"(slope {slope_cell(weights)}).")
    by_width = {}
    for architecture in FIG1_ARCHITECTURES:
        row = slope_row(table1, "delta_k", architecture=architecture)
        if row is None:
            continue
        head = architecture.removesuffix("_output")
        by_width[head] = decays(row)
        lines.append(f"- **{LABELS[architecture]}** widened at α = 1 (the width sweep): median ΔK goes from "
                     f"{from_to(medians(runs, architecture, 'delta_k'))} (slope {slope_cell(row)}: {_falls(row)}); "
                     f"‖w* − w₀‖₂ slope {slope_cell(slope_row(table1, 'weight_change_l2', architecture=architecture))}.")
    text = (f"Log–log slopes with {round(100 * confidence)}% intervals (theory in parentheses); a quantity "
            "falls when the whole interval of its slope lies below −0.25, does not when it lies above it (the rule "
            "of Table 1):\n\n" + "\n".join(lines))
    scaled = [h for h, v in by_alpha.items() if v]
    nonlinear_width = {h: v for h, v in by_width.items() if h != "linear" and h in by_alpha}
    needed = [*by_alpha.values(), *nonlinear_width.values(), by_width.get("linear")]
    if by_alpha and nonlinear_width and any(v is None for v in needed):
        text += ("\n\nThis grid cannot make the comparison of the paper's Section 4: a slope it needs has no "
                 "interval (too few points) or one that straddles −0.25.")
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
