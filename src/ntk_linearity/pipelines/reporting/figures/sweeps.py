"""The figures of any sweep: every measured quantity against the sweep's fit axis with its fitted
slope, and the loss and Delta K(t) of every run along training."""

from __future__ import annotations

import matplotlib.pyplot as plt
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
from ntk_linearity.experiment.vocabulary import AXES, QUANTITIES


def sweep_figure(runs: pd.DataFrame, scaling: pd.DataFrame, *, sweep: str, fit_against: str,
                 group_by=()) -> plt.Figure:
    """Every measured quantity of one sweep against its fit axis: one line per group (median over
    seeds, min-max band), seeds as dots, the fitted slope with its interval in the legend."""
    quantities = [q for q in QUANTITIES if not usable(runs, QUANTITIES[q].column).empty] or list(QUANTITIES)
    n_cols = 3
    n_rows = -(-len(quantities) // n_cols)
    fig, axes = subplots(n_rows, n_cols, figsize=(5 * n_cols, 4 * n_rows), squeeze=False)
    colors = group_colors(runs, group_by)
    for ax, quantity in zip(axes.flat, quantities):
        column = QUANTITIES[quantity].column
        for group, (color, label) in colors.items():
            data = usable(runs, column, group=group)
            if not data.empty:
                points_panel(ax, data, fit_against, column, color,
                              f"{label}: {slope_text(scaling, quantity, sweep=sweep, group=group)}")
        ax.set_ylabel(QUANTITIES[quantity].label)
        ax.set_xlabel(axis_label(fit_against))
        legend(ax, fontsize=7, title="slope [interval]", title_fontsize=7)
    for ax in axes.flat[len(quantities):]:
        ax.set_visible(False)
    fig.suptitle(f"{sweep}: measured quantities against {axis_label(fit_against)} ({seed_note(runs)})",
                 fontsize=11)
    return fig


def sweep_curves(runs: pd.DataFrame, curves: pd.DataFrame, *, sweep: str, fit_against: str,
                 group_by=()) -> plt.Figure:
    """The loss and Delta K(t) of every run of one sweep along training (E2, E6 for any sweep): one
    colour per group, solid at the largest value of the fit axis, dotted at the smallest, dashed
    between. Zero values (Delta K at t = 0) are off the logarithmic axis and not drawn."""
    members = runs[(runs["sweep"] == sweep) & ~runs["diverged"].astype(bool)]
    values = sorted(members[fit_against].dropna().unique())
    styles = {v: "-" if v == values[-1] else ":" if v == values[0] else "--" for v in values}
    fig, axes = subplots(1, 2, figsize=(12, 4.5))
    colors = group_colors(members, group_by) if not members.empty else {}
    for ax, curve, ylabel in ((axes[0], "loss", "training loss L(w_t)"),
                              (axes[1], "delta_k", r"$\|K_t - K_0\|_F / \|K_0\|_F$")):
        lines = curves[curves["curve"] == curve]
        for run in members.itertuples(index=False):
            color, label = colors[run.group]
            points = lines[(lines["namespace"] == run.namespace) & (lines["value"] > 0)].sort_values("step")
            value = getattr(run, fit_against)
            ax.plot(points["step"], points["value"], styles[value], color=color, lw=1.2, alpha=0.8,
                    label=f"{label}, {AXES[fit_against].token or fit_against} = {value:g}")
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))  # one entry per (group, axis value), not per seed
        if unique:
            ax.set_yscale("log")
            ax.legend(unique.values(), unique.keys(), fontsize=7)
        else:
            legend(ax)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(left=0)
        ax.set_xlabel("gradient descent step t (logarithmic beyond t = 1)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.25)
    note = diverged_note(runs[runs["sweep"] == sweep])
    fig.suptitle(f"{sweep}: training loss and kernel change along training, one line per run (seed)"
                 + (f"; {note} (not shown)" if note else ""), fontsize=10)
    return fig
