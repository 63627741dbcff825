"""Tables of the report: runs.csv, training curves, Table 1 exponents and its markdown rendering.

Reporting only reads persisted results; every number here is computed from them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ntk_linearity.numerics import fit_power_law

SHALLOW_ARCHITECTURES = ("linear_output", "softmax_output", "swish_output")
ARCHITECTURES = (*SHALLOW_ARCHITECTURES, "bottleneck")
QUANTITIES = {
    "hessian_norm": "hessian_norm_init",
    "ntk_diag": "ntk_diag_init",
    "delta_k": "delta_k",
    "weight_change_l2": "weight_change_l2",
    "weight_change_linf": "weight_change_linf",
}
# The paper's predicted exponents against width (Table 1, Eq. 2, 5, 6, 10, 14, Section 1); for the
# bottleneck the axis is m_b and the paper predicts only that K stays Theta(1).
THEORY_SLOPES = {
    "linear_output": {"hessian_norm": -0.5, "ntk_diag": 0.0, "delta_k": -0.5,
                      "weight_change_l2": 0.0, "weight_change_linf": -0.5},
    "softmax_output": {"hessian_norm": 0.0, "ntk_diag": 0.0, "delta_k": 0.0, "weight_change_l2": 0.0},
    "swish_output": {"hessian_norm": 0.0, "ntk_diag": 0.0, "delta_k": 0.0, "weight_change_l2": 0.0},
    "bottleneck": {"ntk_diag": 0.0},
}
DECAY_SLOPE = -0.25  # midpoint of the paper's alternatives -1/2 (linear output) and 0
TABLE1_COLUMNS = ["architecture", "quantity", "slope", "slope_ci_low", "slope_ci_high",
                  "theory_slope", "n_widths", "n_seeds"]
RUN_COLUMNS = [
    "namespace", "sweep", "architecture", "head", "width", "bottleneck_width", "seed",
    "learning_rate", "steps", "max_steps", "converged", "diverged", "initial_loss", "final_loss",
    "delta_k", "delta_k_final_float64", "delta_k_noise_floor", "kernel_float32_rounding",
    "hessian_norm_init", "hessian_norm_final", "hessian_residual_init", "hessian_residual_final",
    "ntk_diag_init", "ntk_diag_final", "weight_change_l2", "weight_change_linf", "n_params",
    "wall_seconds", "hessian_wall_seconds", "error",
]
TIMING_COLUMNS = ["wall_seconds", "hessian_wall_seconds"]  # the only columns that vary between runs


def collect_runs(*metrics: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Merge the training and Hessian metrics of every run into one row per run, and the
    Delta K(t) and loss curves into one long table (namespace, curve, step, value)."""
    merged: dict[str, dict] = {}
    for record in metrics:
        merged.setdefault(record["namespace"], {}).update(record)
    rows, curves = [], []
    for namespace, record in merged.items():
        record = dict(record)
        run_curves = record.pop("curves")
        rows.append(record)
        keys = {k: record[k] for k in ("namespace", "architecture", "head", "width", "bottleneck_width", "seed")}
        for curve, steps_key in (("delta_k", "snapshot_steps"), ("loss", "loss_steps")):
            curves += [keys | {"curve": curve, "step": s, "value": v}
                       for s, v in zip(run_curves[steps_key], run_curves[curve])]
    # reindex: results persisted by an older version may lack a newer column (left empty)
    runs = pd.DataFrame(rows).reindex(columns=RUN_COLUMNS).sort_values(
        ["sweep", "architecture", "width", "bottleneck_width", "seed"], na_position="first"
    )
    curve_table = pd.DataFrame(
        curves, columns=["namespace", "architecture", "head", "width", "bottleneck_width", "seed",
                         "curve", "step", "value"])
    return runs.reset_index(drop=True), curve_table


def sweep_axis(architecture: str) -> str:
    """The x-axis of an architecture's scaling fit: m, or m_b for the bottleneck network."""
    return "bottleneck_width" if architecture == "bottleneck" else "width"


def usable(runs: pd.DataFrame, architecture: str, column: str) -> pd.DataFrame:
    """Runs of ``architecture`` that did not diverge and have a positive finite ``column``."""
    rows = runs[(runs["architecture"] == architecture) & ~runs["diverged"].astype(bool)]
    values = pd.to_numeric(rows[column], errors="coerce")
    return rows[np.isfinite(values) & (values > 0)]


def diverged_note(runs: pd.DataFrame) -> str:
    """``"2 of 16 runs diverged"`` (``""`` when none did): diverged runs are in no fit or figure."""
    n_diverged = int(runs["diverged"].astype(bool).sum())
    return f"{n_diverged} of {len(runs)} runs diverged" if n_diverged else ""


def scaling_table(runs: pd.DataFrame, reporting_params: dict) -> pd.DataFrame:
    """Table 1 measured: the log-log slope of every (architecture, quantity) with its interval."""
    rows = []
    for architecture in ARCHITECTURES:
        axis = sweep_axis(architecture)
        for quantity, column in QUANTITIES.items():
            data = usable(runs, architecture, column)
            if data.empty:
                continue
            fit = fit_power_law(
                data[axis].astype(float), data[column].astype(float), groups=data["seed"],
                method=reporting_params["slope_ci_method"], confidence=reporting_params["confidence"],
            )
            rows.append({
                "architecture": architecture,
                "quantity": quantity,
                "slope": fit.slope,
                "slope_ci_low": fit.ci_low,
                "slope_ci_high": fit.ci_high,
                "theory_slope": THEORY_SLOPES[architecture].get(quantity, np.nan),
                "n_widths": int(data[axis].nunique()),
                "n_seeds": int(data["seed"].nunique()),
            })
    return pd.DataFrame(rows, columns=TABLE1_COLUMNS)


def slope_text(table: pd.DataFrame, architecture: str, quantity: str) -> str:
    """``"-0.93 [-0.97, -0.89]"`` for one row of the scaling table (``"n/a"`` when absent)."""
    row = table[(table["architecture"] == architecture) & (table["quantity"] == quantity)]
    if row.empty or not np.isfinite(row["slope"].iloc[0]):
        return "n/a"
    r = row.iloc[0]
    return f"{r.slope:+.2f} [{r.slope_ci_low:+.2f}, {r.slope_ci_high:+.2f}]"


def linearity_verdict(table: pd.DataFrame, runs: pd.DataFrame, architecture: str, threshold: float) -> tuple[str, str]:
    """"Yes"/"No" and the reason, from the data.

    One hidden layer: the paper's two hypotheses are a slope of -1/2 (linear output, Eq. 5, 10) and
    of 0 (non-linear output, Eq. 14); Yes when the upper ends of the intervals of both the Delta K and
    the ||H|| slopes lie below their midpoint ``DECAY_SLOPE`` = -1/4, i.e. both provably decay at
    least like m^(-1/4). Bottleneck: No when Delta K at the narrowest bottleneck (median over seeds)
    exceeds ``threshold`` although every other layer is wide.
    """
    data = usable(runs, architecture, "delta_k")
    if data.empty:
        return "n/a", "no usable runs: every run diverged or has no positive Delta K"
    if architecture == "bottleneck":
        narrowest = data["bottleneck_width"].min()
        median = float(data[data["bottleneck_width"] == narrowest]["delta_k"].median())
        verdict = "No" if median > threshold else "Yes"
        return verdict, f"median Delta K {median:.2f} at m_b = {int(narrowest)} vs threshold {threshold}"
    falling = []
    for quantity in ("delta_k", "hessian_norm"):
        row = table[(table["architecture"] == architecture) & (table["quantity"] == quantity)]
        falling.append(bool(not row.empty and row["slope_ci_high"].iloc[0] < DECAY_SLOPE))
    verdict = "Yes" if all(falling) else "No"
    return verdict, (f"Delta K slope {slope_text(table, architecture, 'delta_k')}, "
                     f"||H|| slope {slope_text(table, architecture, 'hessian_norm')}")


def _fmt(value: float) -> str:
    return "none" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.2f}"


def _diverged_lines(runs: pd.DataFrame) -> list[str]:
    """A paragraph naming the diverged runs (none when no run diverged)."""
    note = diverged_note(runs)
    if not note:
        return []
    names = ", ".join(runs.loc[runs["diverged"].astype(bool), "namespace"])
    return [f"**{note}** and are left out of every fit and verdict (their errors are in the `error` "
            f"column of runs.csv): {names}.", ""]


def table1_markdown(table: pd.DataFrame, runs: pd.DataFrame, reporting_params: dict) -> str:
    """The paper's Table 1 with measured exponents beside the theoretical ones, and which runs
    diverged (they are left out of every fit and verdict)."""
    threshold = float(reporting_params["linearity_threshold"])
    paper = {"linear_output": ("O~(1/sqrt m)", "Theta(1)", "Yes"),
             "softmax_output": ("O~(1)", "Theta(1)", "No"),
             "swish_output": ("O~(1)", "Theta(1)", "No"),
             "bottleneck": ("O~(1)", "Theta(1)", "No")}
    lines = [
        "# Table 1: scaling of the Hessian norm and the tangent kernel",
        "",
        "Exponents are log-log slopes against the width m (against the bottleneck width m_b for the "
        f"bottleneck network) with {int(100 * reporting_params['confidence'])}% intervals "
        f"({reporting_params['slope_ci_method']}); theory in parentheses.",
        "",
        *_diverged_lines(runs),
        "| network | Hessian norm (paper) | Hessian norm slope (theory) | NTK (paper) | K(x,x) slope (theory) "
        "| Delta K slope (theory) | transition to linearity? paper | measured |",
        "|---|---|---|---|---|---|---|---|",
    ]
    reasons = []
    for architecture in ARCHITECTURES:
        if runs[runs["architecture"] == architecture].empty:
            continue
        theory = THEORY_SLOPES[architecture]
        verdict, reason = linearity_verdict(table, runs, architecture, threshold)
        reasons.append(f"- **{architecture}**: {verdict} ({reason}).")
        cells = [
            architecture, paper[architecture][0],
            f"{slope_text(table, architecture, 'hessian_norm')} ({_fmt(theory.get('hessian_norm'))})",
            paper[architecture][1],
            f"{slope_text(table, architecture, 'ntk_diag')} ({_fmt(theory.get('ntk_diag'))})",
            f"{slope_text(table, architecture, 'delta_k')} ({_fmt(theory.get('delta_k'))})",
            paper[architecture][2], verdict,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Verdicts are computed from the data: a one-hidden-layer network shows a transition to "
        "linearity when the upper ends of the intervals of both the Delta K and the ||H|| slopes are "
        f"below {DECAY_SLOPE} (midway between the paper's alternatives -1/2 and 0); the bottleneck "
        f"network does not when the median Delta K at its narrowest bottleneck exceeds {threshold}.",
        "",
        *reasons,
        "",
    ]
    return "\n".join(lines)
