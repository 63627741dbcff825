"""Tables of the report: runs.csv, training curves, the scaling exponents and Table 1.

Reporting only reads persisted results; every number here is computed from them. Architectures,
quantities, theory slopes and the paper's Table 1 rows come from :mod:`ntk_linearity.experiment.vocabulary`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ntk_linearity.numerics import fit_power_law
from ntk_linearity.pipelines.reporting.markdown import escape
from ntk_linearity.pipelines.reporting.verdicts import (  # noqa: F401 (DECAY_SLOPE, Transition: re-exported)
    DECAY_SLOPE, NO_USABLE_RUNS, Slope, Transition, Verdict, narrowest_verdict, slopes_verdict,
)
from ntk_linearity.pipelines.schema import BALL_COLUMNS, BALL_RUN_KEYS, RUN_COLUMNS, sort_runs
from ntk_linearity.experiment.vocabulary import (
    ARCHITECTURES,
    BALL_HESSIAN_SUP,
    LINEARISATION_QUANTITIES,
    PAPER_ARCHITECTURES,
    QUANTITIES,
    TABLE1_QUANTITIES,
)

# transition, transition_reason: the architecture's verdict (repeated on each of its rows), as in table1.md
TABLE1_COLUMNS = ["architecture", "quantity", "slope", "slope_ci_low", "slope_ci_high",
                  "theory_slope", "n_widths", "n_seeds", "transition", "transition_reason"]
SCALING_COLUMNS = ["sweep", "group", "architecture", "quantity", "fit_against", "slope", "slope_ci_low",
                   "slope_ci_high", "theory_slope", "n_points", "n_seeds"]


class GridMismatchError(ValueError):
    """The persisted sweep tables do not hold exactly the runs of the configured grid."""


def check_grid(runs: pd.DataFrame, expected: tuple[str, ...]) -> None:
    """Refuse a runs table that misses a configured run or holds one that is not configured (a table
    gathered under other settings), naming them."""
    found = set(runs["namespace"])
    missing, extra = sorted(set(expected) - found), sorted(found - set(expected))
    if missing or extra:
        raise GridMismatchError(
            f"the sweep tables do not match the configured grid: {len(missing)} configured runs missing "
            f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}), {len(extra)} runs not configured "
            f"({', '.join(extra[:5])}{', ...' if len(extra) > 5 else ''}); "
            "recompute with `kedro run` (or `kedro run --pipelines <sweep>`)")


def collect_runs(*tables: pd.DataFrame, expected: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every sweep's runs table in one ``runs.csv``, and every sweep's curves in one long table,
    after checking that the runs are exactly the ``expected`` namespaces of the configured grid.

    ``tables`` are the sweeps' runs tables followed by their curve tables, in the same order."""
    half = len(tables) // 2
    runs = pd.concat(tables[:half], ignore_index=True).reindex(columns=RUN_COLUMNS)
    check_grid(runs, expected)
    curves = pd.concat(tables[half:], ignore_index=True)
    return sort_runs(runs), curves


def usable(runs: pd.DataFrame, column: str, **where) -> pd.DataFrame:
    """Runs matching ``where`` (column = value) that did not diverge and have a positive finite
    ``column``."""
    rows = runs[~runs["diverged"].astype(bool)]
    for key, value in where.items():
        rows = rows[rows[key] == value]
    values = pd.to_numeric(rows[column], errors="coerce")
    return rows[np.isfinite(values) & (values > 0)]


def diverged_note(runs: pd.DataFrame) -> str:
    """``"2 of 16 runs diverged"`` (``""`` when none did): diverged runs are in no fit or figure."""
    n_diverged = int(runs["diverged"].astype(bool).sum())
    return f"{n_diverged} of {len(runs)} runs diverged" if n_diverged else ""


def fit_column(data: pd.DataFrame, axis: str, column: str, reporting_params) -> object:
    """The log-log slope of ``column`` against ``axis`` over ``data`` with its interval (seeds as groups)."""
    return fit_power_law(
        data[axis].astype(float), data[column].astype(float), groups=data["seed"],
        method=reporting_params.slope_ci_method, confidence=reporting_params.confidence,
    )


def scaling_table(runs: pd.DataFrame, *, reporting_params) -> pd.DataFrame:
    """The paper's Table 1 measured: the log-log slope of every (paper architecture, quantity) with
    its interval, over every run of that architecture, and the architecture's verdict with its reason
    (:func:`linearity_verdict`, the same as in ``table1.md``)."""
    rows = []
    for architecture in PAPER_ARCHITECTURES:
        axis = ARCHITECTURES[architecture].fit_axis
        for quantity in TABLE1_QUANTITIES:
            data = usable(runs, QUANTITIES[quantity].column, architecture=architecture)
            if data.empty:
                continue
            fit = fit_column(data, axis, QUANTITIES[quantity].column, reporting_params)
            rows.append({
                "architecture": architecture,
                "quantity": quantity,
                "slope": fit.slope,
                "slope_ci_low": fit.ci_low,
                "slope_ci_high": fit.ci_high,
                "theory_slope": ARCHITECTURES[architecture].theory.get(quantity, np.nan),
                "n_widths": int(data[axis].nunique()),
                "n_seeds": int(data["seed"].nunique()),
            })
    table = pd.DataFrame(rows, columns=TABLE1_COLUMNS).astype({"transition": object, "transition_reason": object})
    threshold = float(reporting_params.linearity_threshold)
    verdicts = {a: linearity_verdict(table, runs, threshold, architecture=a) for a in table["architecture"].unique()}
    table["transition"] = table["architecture"].map(lambda a: str(verdicts[a].transition))
    table["transition_reason"] = table["architecture"].map(lambda a: verdicts[a].reason)
    return table


def sweep_scaling(runs: pd.DataFrame, *, sweep: str, fit_against: str, reporting_params) -> pd.DataFrame:
    """Long format: the slope of every measured quantity of every group of one sweep against its
    ``fit_against`` axis, with interval, theory slope (where the architecture has one) and counts."""
    rows = []
    for group, members in runs.groupby("group", sort=False):
        architecture = members["architecture"].iloc[0]
        for quantity, measured in QUANTITIES.items():
            data = usable(members, measured.column)
            if data.empty:
                continue
            fit = fit_column(data, fit_against, measured.column, reporting_params)
            spec = ARCHITECTURES[architecture]
            theory = spec.theory.get(quantity, np.nan) if fit_against == spec.fit_axis else np.nan
            rows.append({
                "sweep": sweep, "group": group, "architecture": architecture, "quantity": quantity,
                "fit_against": fit_against, "slope": fit.slope, "slope_ci_low": fit.ci_low,
                "slope_ci_high": fit.ci_high, "theory_slope": theory,
                "n_points": int(data[fit_against].nunique()), "n_seeds": int(data["seed"].nunique()),
            })
    return pd.DataFrame(rows, columns=SCALING_COLUMNS)


def ball_sups(ball: pd.DataFrame) -> pd.DataFrame:
    """sup ||H|| in the ball B(w_0, R) per run and configured radius: the largest ``hessian_sup`` (the
    grid sup along each sampled segment [w_0, w_0 + R u]) over the directions, and over the path
    points within distance R of w_0 (they lie in the ball too); with the largest ratio of kernel
    change to bound at those points. Columns: the run's keys, ``radius_label``, ``radius``,
    ``hessian_sup``, ``ratio_max``, ``n_points``."""
    columns = [*BALL_RUN_KEYS, "radius_label", "radius", "hessian_sup", "ratio_max", "n_points"]
    rows = []
    for keys, run in ball.groupby("namespace", sort=False):
        path = run[run["kind"] == "path"]
        for label, sampled in run[run["kind"] == "ball"].groupby("radius_label", sort=False):
            radius = float(sampled["radius"].iloc[0])
            inside = pd.concat([sampled, path[path["distance"] <= radius]])
            rows.append({**sampled.iloc[0][BALL_RUN_KEYS].to_dict(), "radius_label": label, "radius": radius,
                         "hessian_sup": float(inside["hessian_sup"].max()),
                         "ratio_max": float(inside["ratio"].max()), "n_points": len(inside)})
    return pd.DataFrame(rows, columns=columns)


def ball_scaling(ball: pd.DataFrame, *, sweep: str, fit_against: str, reporting_params) -> pd.DataFrame:
    """Long format, like :func:`sweep_scaling`: the slope of sup ||H|| in the ball (:func:`ball_sups`)
    against ``fit_against`` for every group of the sweep and every configured radius (group
    ``"<group>, R = <radius>"``), with the architecture's theory slope."""
    sups = ball_sups(ball)
    rows = []
    for (group, label), members in sups.groupby(["group", "radius_label"], sort=False):
        data = members[np.isfinite(members["hessian_sup"]) & (members["hessian_sup"] > 0)]
        if data.empty:
            continue
        fit = fit_column(data, fit_against, "hessian_sup", reporting_params)
        spec = ARCHITECTURES[data["architecture"].iloc[0]]
        theory = spec.theory.get(BALL_HESSIAN_SUP.name, np.nan) if fit_against == spec.fit_axis else np.nan
        rows.append({
            "sweep": sweep, "group": ball_group(group, label), "architecture": spec.name,
            "quantity": BALL_HESSIAN_SUP.name, "fit_against": fit_against, "slope": fit.slope,
            "slope_ci_low": fit.ci_low, "slope_ci_high": fit.ci_high, "theory_slope": theory,
            "n_points": int(data[fit_against].nunique()), "n_seeds": int(data["seed"].nunique()),
        })
    return pd.DataFrame(rows, columns=SCALING_COLUMNS)


def ball_group(group: str, radius_label: str) -> str:
    """The scaling table's group of a ball fit: ``"linear, R = 0.5 R*"``."""
    return f"{group}, R = {radius_label}"


def concat_ball(*tables: pd.DataFrame) -> pd.DataFrame:
    """Every sweep's ball table in one long table (``ball.csv``; empty when no sweep has a ball)."""
    frames = [table for table in tables if not table.empty]
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()).reindex(columns=BALL_COLUMNS)


def concat_scaling(*tables: pd.DataFrame) -> pd.DataFrame:
    """Every sweep's scaling rows in one long table (``scaling.csv``)."""
    return pd.concat(tables, ignore_index=True).reindex(columns=SCALING_COLUMNS)


def slope_row(table: pd.DataFrame, quantity: str, **where) -> pd.Series | None:
    """The row of a scaling table for ``quantity`` and ``where`` (``architecture=...`` in Table 1,
    ``sweep=..., group=...`` in the long table), or ``None``."""
    rows = table[table["quantity"] == quantity]
    for key, value in where.items():
        rows = rows[rows[key] == value]
    return None if rows.empty else rows.iloc[0]


def slope_text(table: pd.DataFrame, quantity: str, **where) -> str:
    """``"-0.93 [-0.97, -0.89]"`` for one row of a scaling table (``"n/a"`` when absent)."""
    r = slope_row(table, quantity, **where)
    if r is None or not np.isfinite(r.slope):
        return "n/a"
    if not (np.isfinite(r.slope_ci_low) and np.isfinite(r.slope_ci_high)):
        return f"{r.slope:+.2f} [no interval: too few points]"
    return f"{r.slope:+.2f} [{r.slope_ci_low:+.2f}, {r.slope_ci_high:+.2f}]"


CURVATURE = {"ratio": ("hessian_ratio", "||H||/K(x,x)")}  # the curvature of a verdict rule; else ||H||


def fitted_slope(table: pd.DataFrame, quantity: str, name: str, axis: str, **where) -> Slope | None:
    """One quantity's fitted slope, as :func:`~.verdicts.slopes_verdict` reads it (``None``: no fit)."""
    r = slope_row(table, quantity, **where)
    if r is None or not np.isfinite(r.slope):
        return None
    points, axis = (r["n_points"], r["fit_against"]) if "n_points" in r.index else (r["n_widths"], axis)
    return Slope(name, float(r.slope_ci_low), float(r.slope_ci_high), int(points), int(r.n_seeds), axis)


def linearity_verdict(table: pd.DataFrame, runs: pd.DataFrame, threshold: float, **where) -> Verdict:
    """The :class:`~.verdicts.Verdict` (*Yes*, *No* or *cannot tell*, with its reason) for the runs and
    scaling rows matching ``where`` (``architecture=...``, or ``sweep=..., group=...``), by the
    architecture's verdict rule: :func:`~.verdicts.slopes_verdict` on the Delta K and ||H|| slopes, or on
    the Delta K and ||H|| / K(x, x) slopes for the rule ``"ratio"``, or, for a bottleneck,
    :func:`~.verdicts.narrowest_verdict` over the narrowest value of its fit axis (m_b, or C_b for a
    channel bottleneck). No usable run: *cannot tell*."""
    data = usable(runs, "delta_k", **where)
    if data.empty:
        return NO_USABLE_RUNS
    spec = ARCHITECTURES[data["architecture"].iloc[0]]
    if spec.verdict_rule == "narrowest":
        narrowest = data[spec.fit_axis].min()
        median = float(data[data[spec.fit_axis] == narrowest]["delta_k"].median())
        return narrowest_verdict(median, threshold, spec.fit_axis, narrowest)
    curvature, name = CURVATURE.get(spec.verdict_rule, ("hessian_norm", "||H||"))
    return slopes_verdict({label: fitted_slope(table, quantity, label, spec.fit_axis, **where)
                           for quantity, label in (("delta_k", "Delta K"), (curvature, name))})


def _fmt(value: float) -> str:
    return "none" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.2f}"


def _diverged_lines(runs: pd.DataFrame) -> list[str]:
    """A paragraph naming the diverged runs (none when no run diverged)."""
    note = diverged_note(runs)
    if not note:
        return []
    names = ", ".join(escape(name) for name in runs.loc[runs["diverged"].astype(bool), "namespace"])
    return [f"**{note}** and are left out of every fit and verdict (their errors are in the `error` "
            f"column of runs.csv): {names}.", ""]


def _row(name: str, paper, slopes: dict[str, str], theory: dict, verdict: Verdict) -> str:
    cells = [
        name, paper.hessian_norm if paper else "-",
        f"{slopes['hessian_norm']} ({_fmt(theory.get('hessian_norm'))})",
        paper.ntk if paper else "-",
        f"{slopes['ntk_diag']} ({_fmt(theory.get('ntk_diag'))})",
        f"{slopes['delta_k']} ({_fmt(theory.get('delta_k'))})",
        f"{slopes['linearisation_error']} / {slopes['linearised_gap']} ({_fmt(theory.get('linearisation_error'))})",
        paper.transition if paper else "-", verdict.text.replace("|", "\\|"),  # ||H|| inside a cell
    ]
    return "| " + " | ".join(cells) + " |"


TABLE1_TITLE = "# Table 1: scaling of the Hessian norm and the tangent kernel"
TABLE1_HEADER = [
    "| network | Hessian norm (paper) | Hessian norm slope (theory) | NTK (paper) | K(x,x) slope (theory) "
    "| Delta K slope (theory) | linearisation error / gap slope (theory) "
    "| transition to linearity? paper | measured |",
    "|---|---|---|---|---|---|---|---|---|",
]
ROW_QUANTITIES = ("hessian_norm", "ntk_diag", "delta_k", *LINEARISATION_QUANTITIES)


def _paper_rows(table: pd.DataFrame, runs: pd.DataFrame, threshold: float) -> tuple[list[str], list[str]]:
    """Table 1's rows of the paper's architectures that have runs, and the reasons of their verdicts."""
    lines, reasons = [], []
    for architecture in PAPER_ARCHITECTURES:
        if runs[runs["architecture"] == architecture].empty:
            continue
        spec = ARCHITECTURES[architecture]
        verdict = linearity_verdict(table, runs, threshold, architecture=architecture)
        reasons.append(f"- **{architecture}**: {verdict.transition} ({verdict.reason}).")
        slopes = {q: slope_text(table, q, architecture=architecture) for q in ROW_QUANTITIES}
        lines.append(_row(architecture, spec.paper_row, slopes, spec.theory, verdict))
    return lines, reasons


def _beyond_rows(scaling: pd.DataFrame, runs: pd.DataFrame, threshold: float) -> tuple[list[str], list[str]]:
    """The rows of every group beyond the paper's Table 1 that has runs, fitted or not (a fully
    diverged group reads n/a), and the reasons of their verdicts: first the paper's claims (Appendix
    H), then what lies beyond its Section 6. A group is named when its architecture alone does not
    tell it from the sweep's other groups (each depth)."""
    keys = runs[["sweep", "group", "architecture"]].drop_duplicates()
    beyond = keys[keys["architecture"].map(lambda a: ARCHITECTURES[a].paper_row is None).astype(bool)]
    beyond = beyond.sort_values("architecture", key=lambda a: a.map(lambda n: ARCHITECTURES[n].claim is None),
                                kind="stable")
    shared = beyond.duplicated(["sweep", "architecture"], keep=False)
    lines, reasons = [], []
    for (sweep, group, architecture), named in zip(beyond.itertuples(index=False), shared):
        spec = ARCHITECTURES[architecture]
        where = f"the paper's claim, {spec.source}" if spec.claim else f"{spec.source}, beyond the paper's Section 6"
        name = f"{spec.label}{', ' + escape(group) if named else ''} ({escape(sweep)}; {where})"
        verdict = linearity_verdict(scaling, runs, threshold, sweep=sweep, group=group)
        reasons.append(f"- **{escape(sweep)} {escape(group)}**: {verdict.transition} ({verdict.reason}).")
        slopes = {q: slope_text(scaling, q, sweep=sweep, group=group) for q in ROW_QUANTITIES}
        lines.append(_row(name, spec.claim, slopes, spec.theory, verdict))
    return lines, reasons


def _verdict_rules(threshold: float) -> str:
    """The paragraph below Table 1 that says how its verdicts are computed and what its lower rows are."""
    return (
        "Verdicts are computed from the data and take three values. A network swept over its width shows "
        "a transition to linearity (Yes) when the intervals of both the Delta K and the ||H|| slopes lie "
        f"wholly below {DECAY_SLOPE} (midway between the paper's alternatives -1/2 and 0; for the rows of "
        "Appendix A and B, whose kernel scale moves with the swept axis, the slope of the scale-free "
        "||H|| / K(x,x) replaces that of ||H||), and none (No) when either interval lies wholly above it; "
        "otherwise the grid cannot tell (a slope without an interval, too few points or seeds, or an "
        f"interval that contains {DECAY_SLOPE}): that is no refutation, and the reason is given. A bottleneck "
        f"network shows none (No) when the median Delta K at its narrowest bottleneck exceeds {threshold}. "
        "Rows below the paper's are either the paper's claims outside its Table 1 (its Appendix H: "
        "convolutional and residual networks, the width being the number of channels C; their paper "
        "columns state the claim, judged by the same rules) or beyond its Section 6 (a '-' where the "
        "paper has no entry)."
    )


def table1_markdown(table: pd.DataFrame, scaling: pd.DataFrame, runs: pd.DataFrame, *,
                    reporting_params) -> str:
    """The paper's Table 1 with measured exponents beside the theoretical ones; below it, one row per
    sweep group of every other architecture: the paper's claims outside its Table 1 (convolutional
    and residual networks, Appendix H: their paper columns give the claim) and architectures beyond
    the paper's Section 6 (e.g. each depth); and which runs diverged (they are left out of every fit
    and verdict). Without any run, a sentence."""
    if runs.empty:
        return f"{TABLE1_TITLE}\n\nThere are no runs in this configuration, so there is nothing to compare.\n"
    threshold = float(reporting_params.linearity_threshold)
    paper_lines, paper_reasons = _paper_rows(table, runs, threshold)
    beyond_lines, beyond_reasons = _beyond_rows(scaling, runs, threshold)
    lines = [
        TABLE1_TITLE,
        "",
        "Exponents are log-log slopes against the width m (against the bottleneck width m_b for the "
        "bottleneck network; against the channels C, or the bottleneck channels C_b, for convolutional "
        f"networks; against the output scale alpha for the output-scaled ones) with {int(100 * reporting_params.confidence)}% intervals "
        f"({reporting_params.slope_ci_method}); theory in parentheses. The network against its linearisation "
        "f_lin(w) = f(w_0) + J(w_0)(w - w_0): the linearisation error max_t ||f(w_t) - f_lin(w_t)|| / "
        "||f(w_T) - f(w_0)|| over the kernel snapshots, and the gap max_t ||f(w_t) - f_lin,t|| / ||y - f(w_0)|| "
        "to f_lin trained alongside by the same gradient descent; their theory is the slope of the Taylor bound "
        "1/2 sup ||H|| ||w - w_0||^2, an upper bound that the measurement may beat.",
        "",
        *_diverged_lines(runs),
        *TABLE1_HEADER,
        *paper_lines,
        *beyond_lines,
        "",
        _verdict_rules(threshold),
        "",
        *paper_reasons,
        *beyond_reasons,
        "",
    ]
    return "\n".join(lines)
