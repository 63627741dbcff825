"""The figures of the step size across the linearised stability limit (the catapult) and of
Theorem 5.1's rate along the path."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter
import pandas as pd

from ntk_linearity.pipelines.reporting.figures.style import (
    axis_label,
    group_colors,
    legend,
    points_panel,
    seed_note,
    subplots,
)
from ntk_linearity.pipelines.reporting.tables import diverged_note, slope_text, usable
from ntk_linearity.pipelines.reporting.statements.formatting import value_text
from ntk_linearity.experiment.vocabulary import AXES


STABILITY_LIMIT = 2.0  # eta * lambda_max(K/n) = 2: the linearised square-loss GD stops contracting


OUTCOMES = {  # how a run ended, as the outcome panel marks it: (marker, colour, legend)
    "monotone": ("o", "tab:blue", "converged, loss never above $L_0$"),
    "catapult": ("^", "tab:orange", "converged after the loss rose above $L_0$"),
    "stopped": ("s", "tab:gray", "stopped at the step limit"),
    "diverged": ("X", "tab:red", "diverged (marked, no curves)"),
}


def run_outcome(run) -> str:
    """``diverged``, ``stopped`` (step limit), ``catapult`` (converged after the loss rose above L_0)
    or ``monotone`` for one row of runs.csv."""
    if bool(run["diverged"]):
        return "diverged"
    if not bool(run["converged"]):
        return "stopped"
    return "catapult" if run["loss_peak_ratio"] > 1 else "monotone"


def ratio_colors(values) -> dict[float, tuple]:
    """A colour per eta * lambda_0: blues below the limit 2, reds above it (darker further away)."""
    values = sorted(float(v) for v in values)
    below = [v for v in values if v < STABILITY_LIMIT]
    above = [v for v in values if v >= STABILITY_LIMIT]
    colors = {v: plt.cm.Blues(0.45 + 0.5 * (len(below) - i) / max(len(below), 1)) for i, v in enumerate(below)}
    colors |= {v: plt.cm.Reds(0.4 + 0.55 * (i + 1) / max(len(above), 1)) for i, v in enumerate(above)}
    return colors


def catapult_figure(runs: pd.DataFrame, scaling: pd.DataFrame, *, sweep: str, fit_against: str) -> plt.Figure:
    """Delta K against width for every eta * lambda_0 of a sweep (one line each, the fitted slope in
    the legend: falling below the limit 2, flat above it), and how every run ended, diverged runs
    marked, with the catapult's peak loss over L_0."""
    members = runs[runs["sweep"] == sweep]
    fig, (left, right) = subplots(1, 2, figsize=(13, 5))
    colors = ratio_colors(members["eta_lambda0"].unique())
    for ratio, group in members.groupby("eta_lambda0"):
        data = usable(group, "delta_k")
        if not data.empty:
            name = group["group"].iloc[0]
            points_panel(left, data, fit_against, "delta_k", colors[float(ratio)],
                          rf"$\eta\lambda_0$ = {ratio:g}: slope {slope_text(scaling, 'delta_k', sweep=sweep, group=name)}")
    left.set_ylabel(r"$\Delta K = \sup_t \|K_t - K_0\|_F / \|K_0\|_F$")
    left.set_title(r"kernel change vs width for each $\eta\lambda_0$ (blue: below 2, red: above)", fontsize=9)
    legend(left, fontsize=7, title="slope [interval]", title_fontsize=7)

    widths = np.array(sorted(members[fit_against].unique()), float)
    offsets = {seed: 1.06 ** (i - (members["seed"].nunique() - 1) / 2)
               for i, seed in enumerate(sorted(members["seed"].unique()))}
    seen = set()
    for _, run in members.iterrows():
        outcome = run_outcome(run)
        marker, color, label = OUTCOMES[outcome]
        right.plot(run[fit_against] * offsets[run["seed"]], run["eta_lambda0"], marker, color=color, ms=8,
                   label=None if outcome in seen else label)
        seen.add(outcome)
        if outcome == "catapult":
            right.annotate(f"{run['loss_peak_ratio']:.3g}", (run[fit_against] * offsets[run["seed"]], run["eta_lambda0"]),
                           textcoords="offset points", xytext=(6, 4), fontsize=6.5, color="tab:orange")
    if not members.empty:
        right.axhline(STABILITY_LIMIT, color="k", ls="--", lw=1, label=r"linearised limit $\eta\lambda_0 = 2$")
    right.set_xscale("log")
    if len(widths):
        right.set_xticks(widths, [f"{w:g}" for w in widths])
        right.xaxis.set_minor_formatter(NullFormatter())
    right.set_xlabel(axis_label(fit_against))
    right.set_ylabel(AXES["eta_lambda0"].label)
    right.set_title(r"how each run ended (numbers: a catapult's peak loss over $L_0$)", fontsize=9)
    right.grid(True, alpha=0.25)
    legend(right, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle(f"{sweep}: the step size across the linearised stability limit ({seed_note(members)})",
                 fontsize=10)
    return fig


def _with_runs(curves: pd.DataFrame, runs: pd.DataFrame, curve: str) -> pd.DataFrame:
    """The ``curve`` rows of the runs in ``runs``, with each run's eta, eta * lambda_0 and L_0."""
    keys = runs[["namespace", "learning_rate", "eta_lambda0", "initial_loss"]]
    return curves[curves["curve"] == curve].merge(keys, on="namespace").sort_values(["namespace", "step"])


def catapult_dynamics(runs: pd.DataFrame, curves: pd.DataFrame, *, sweep: str, fit_against: str) -> plt.Figure:
    """At the sweep's largest width: the loss over L_0 along training (the spike above the limit) and
    eta lambda_max(K_t/n) at every kernel snapshot against the line 2 (the catapult brings it below),
    one line per run, a colour per eta * lambda_0 (the largest value of ``fit_against``)."""
    members = runs[runs["sweep"] == sweep]
    width = members[fit_against].max() if len(members) else None
    at_width = members[(members[fit_against] == width) & ~members["diverged"].astype(bool)]
    colors = ratio_colors(members["eta_lambda0"].unique())
    fig, (top, bottom) = subplots(2, 1, figsize=(8, 8), sharex=True)
    loss = _with_runs(curves, at_width, "loss")
    sharpness = _with_runs(curves, at_width, "lambda_max")
    for ax, lines, value in ((top, loss, lambda r: r["value"] / r["initial_loss"]),
                             (bottom, sharpness, lambda r: r["value"] * r["learning_rate"])):
        for i, (_, run) in enumerate(lines.groupby("namespace", sort=False)):
            ratio = float(run["eta_lambda0"].iloc[0])
            ax.plot(run["step"], value(run), "-", color=colors[ratio], lw=1.3, alpha=0.85,
                    marker="." if ax is bottom else None, ms=4, label=rf"$\eta\lambda_0$ = {ratio:g}")
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))  # one entry per eta * lambda_0, not per seed
        if unique:
            ax.legend(unique.values(), unique.keys(), fontsize=7, ncol=2)
        else:
            legend(ax)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(left=0)
        ax.grid(True, which="major", alpha=0.25)
    if not loss.empty:
        top.set_yscale("log")
    if not sharpness.empty:
        bottom.axhline(STABILITY_LIMIT, color="k", ls="--", lw=1)
        bottom.text(0.99, STABILITY_LIMIT, "2 (linearised stability limit)", ha="right", va="bottom", fontsize=7,
                    transform=bottom.get_yaxis_transform())
    top.set_ylabel(r"training loss $L(w_t) / L(w_0)$")
    bottom.set_ylabel(r"$\eta\,\lambda_{\max}(K_t/n)$")
    bottom.set_xlabel("gradient descent step t (logarithmic beyond t = 1)")
    note = diverged_note(members[members[fit_against] == width])
    fig.suptitle(f"{sweep}: loss spike and top kernel eigenvalue along training, {AXES[fit_against].token or fit_against} = {value_text(width)}"
                 + (f"\n{note} (no curves)" if note else ""), fontsize=10)
    return fig


def convergence_rate(runs: pd.DataFrame, *, sweep: str, fit_against: str, group_by=()) -> plt.Figure:
    """Theorem 5.1 along the path: min_t lambda_min(K_t/n) against width per group, and the fitted
    exponential rate of the loss tail against eta lambda_min with the lines rate = eta lambda_min
    (the guarantee of Eq. 15) and rate = 2 eta lambda_min (the slowest mode of the linearised model)."""
    members = runs[runs["sweep"] == sweep]
    fig, (left, right) = subplots(1, 2, figsize=(12, 4.8))
    colors = group_colors(members, group_by) if not members.empty else {}
    predicted = []
    for group, (color, label) in colors.items():
        data = usable(members, "lambda_min_path", group=group)
        if not data.empty:
            points_panel(left, data, fit_against, "lambda_min_path", color, label)
            at_init = usable(data, "lambda_min_init").groupby(fit_against)["lambda_min_init"].median()
            left.plot(at_init.index, at_init.to_numpy(), "--", color=color, lw=1,
                      label=rf"{label}: $\lambda_{{\min}}(K_0/n)$ at $w_0$")
        data = usable(data, "loss_rate")
        if not data.empty:
            x = data["learning_rate"] * data["lambda_min_path"]
            right.plot(x, data["loss_rate"], "o", color=color, ms=4.5, alpha=0.8, label=label)
            predicted += list(x)
    left.set_ylabel(r"$\min_t \lambda_{\min}(K(w_t)/n)$ over the snapshots")
    left.set_title(r"conditioning along the path ($\mu$ of Theorem 5.1; dashed: at $w_0$)", fontsize=9)
    legend(left, fontsize=7.5)
    if predicted:
        grid = np.geomspace(min(predicted) / 1.5, max(predicted) * 1.5, 50)
        right.plot(grid, grid, "k--", lw=1, label=r"rate $= \eta\lambda_{\min}$ (Eq. 15 guarantees at least this)")
        right.plot(grid, 2 * grid, "k:", lw=1, label=r"rate $= 2\eta\lambda_{\min}$ (slowest linear mode)")
        right.set_xscale("log")
        right.set_yscale("log")
    right.set_xlabel(r"$\eta \cdot \min_t \lambda_{\min}(K_t/n)$")
    right.set_ylabel(r"fitted rate $-d\ln L/dt$ on the last half of the steps")
    right.set_title("exponential rate of the loss vs Theorem 5.1's", fontsize=9)
    right.grid(True, which="both", alpha=0.25)
    legend(right, fontsize=7.5)
    fig.suptitle(f"{sweep}: Theorem 5.1's rate ({seed_note(members)})", fontsize=10)
    return fig
