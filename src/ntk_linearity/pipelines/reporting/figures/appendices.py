"""The figures of the paper's Appendix B (the parameterisation) and Appendix A (the output scale
against the width)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ntk_linearity.pipelines.reporting.figures.style import (
    SHALLOW_ARCHITECTURES,
    legend,
    points_panel,
    scaling_panel,
    seed_note,
    subplots,
)
from ntk_linearity.pipelines.reporting.tables import slope_text, usable
from ntk_linearity.experiment.vocabulary import ARCHITECTURES, LINEAR_HEAD, QUANTITIES


PARAMETERIZATION_STYLES = {"ntk": "-", "standard": "--"}


PARAMETERIZATION_PANELS = (("ntk_diag", r"$K(x,x)=\|\nabla_w f\|^2$ at $w_0$"), ("hessian_norm", r"$\|H\|$ at $w_0$"),
                           ("hessian_ratio", r"$\|H\| / K(x,x)$ at $w_0$ (scale-free)"),
                           ("delta_k", r"$\Delta K$"))


def head_color(head: str) -> str:
    """The colour of a head: that of its one-hidden-layer architecture of Fig. 1 (blue linear, green
    swish, red softmax)."""
    return ARCHITECTURES.get(f"{head}_output", ARCHITECTURES[LINEAR_HEAD]).color


def parameterization_figure(runs: pd.DataFrame, scaling: pd.DataFrame, *, sweeps=()) -> plt.Figure:
    """Appendix B: K(x, x), ||H||, the scale-free ||H|| / K(x, x) and Delta K against width for every
    (parameterisation, head) group of ``sweeps``: colour by head, solid NTK, dashed standard, the fitted
    slope with its interval in the legend."""
    members = runs[runs["sweep"].isin(sweeps)]
    fig, axes = subplots(2, 2, figsize=(12, 8.5))
    for ax, (quantity, ylabel) in zip(axes.flat, PARAMETERIZATION_PANELS):
        column = QUANTITIES[quantity].column
        for (sweep, group), rows in members.groupby(["sweep", "group"], sort=False):
            data = usable(rows, column)
            if data.empty:
                continue
            first = rows.iloc[0]
            points_panel(ax, data, "width", column, head_color(first["head"]),
                          f"{first['parameterization']}, {first['head']}: "
                          f"{slope_text(scaling, quantity, sweep=sweep, group=group)}",
                          PARAMETERIZATION_STYLES.get(first["parameterization"], ":"))
        ax.set_ylabel(ylabel)
        legend(ax, fontsize=7, title="parameterisation, head: slope [interval]", title_fontsize=7)
    fig.suptitle("Appendix B: NTK (solid) against standard (dashed) parameterisation at the same "
                 f"$\\eta\\lambda_0$\n{seed_note(members)}", fontsize=10)
    return fig


def output_scaling_figure(runs: pd.DataFrame, scaling: pd.DataFrame, table: pd.DataFrame, *,
                          sweeps=()) -> plt.Figure:
    """Appendix A and Section 4: Delta K and ||w* - w_0||_2 against the output scale alpha (non-linear
    heads of ``sweeps``, fixed width; left) and against width at alpha = 1 (the one-hidden-layer
    networks of Fig. 1; right): scaling freezes every kernel by moving the weights less, width freezes
    only the linear output's while the weights move Theta(1)."""
    members = runs[runs["sweep"].isin(sweeps)]
    fig, axes = subplots(2, 2, figsize=(12, 8.5), sharey="row")  # one scale: scaling against widening
    for row, (quantity, ylabel) in enumerate((("delta_k", r"$\Delta K$"),
                                              ("weight_change_l2", r"$\|w^* - w_0\|_2$"))):
        column = QUANTITIES[quantity].column
        for (sweep, group), rows in members.groupby(["sweep", "group"], sort=False):
            data = usable(rows, column)
            if not data.empty:
                points_panel(axes[row, 0], data, "output_scale", column, head_color(rows["head"].iloc[0]),
                              f"{rows['head'].iloc[0]}: {slope_text(scaling, quantity, sweep=sweep, group=group)}")
        for architecture in SHALLOW_ARCHITECTURES:
            scaling_panel(axes[row, 1], runs, table, architecture, column, quantity)
        widths = sorted(members["width"].dropna().unique())
        axes[row, 0].set_title(f"scaled by $\\alpha$ at m = {', '.join(f'{w:g}' for w in widths) or 'n/a'}",
                               fontsize=9)
        axes[row, 1].set_title(r"widened at $\alpha$ = 1 (the width sweep)", fontsize=9)
        axes[row, 0].set_ylabel(ylabel)
        for ax in axes[row]:
            legend(ax, fontsize=7, title="slope [interval]", title_fontsize=7)
    fig.suptitle("Appendix A: output scaling freezes every kernel, width only the linear output's\n"
                 f"{seed_note(members)}", fontsize=10)
    return fig
