"""The figures of Section 3.14, linearity itself: how far each network is from its linearisation
``f_lin(w) = f(w_0) + J(w_0)(w - w_0)`` (Section 1, Eq. 2-3) beside the kernel change ΔK, and how far K(w_0) is
from the infinite-width kernel Θ, against width on log-log axes, with the fitted slopes (legend) and the
theory slopes (dotted lines through each group's first median)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ntk_linearity.experiment.runs import SweepSpec
from ntk_linearity.experiment.vocabulary import LINEARISATION_QUANTITIES, QUANTITIES
from ntk_linearity.pipelines.reporting.figures.style import (
    axis_label,
    group_colors,
    legend,
    points_panel,
    seed_note,
    subplots,
)
from ntk_linearity.pipelines.reporting.statements.linearity import KERNEL_DEVIATION
from ntk_linearity.pipelines.reporting.tables import slope_row, slope_text, usable

LINEARITY_PANELS = (*LINEARISATION_QUANTITIES, "delta_k")


def theory_line(ax, data: pd.DataFrame, axis: str, column: str, slope: float, color: str) -> None:
    """The theory's power law x^slope through the median at the smallest x (dotted); nothing without one."""
    if not np.isfinite(slope):
        return
    x = np.array(sorted(data[axis].unique()), float)
    y0 = data.loc[data[axis] == x[0], column].median()
    ax.plot(x, y0 * (x / x[0]) ** slope, ":", color=color, lw=1.3, label=f"theory slope {slope:+.2f}")


def _group_panel(ax, runs: pd.DataFrame, scaling: pd.DataFrame, sweep: SweepSpec, quantity: str) -> None:
    """Every group of one sweep on one panel: seeds, medians, the fitted slope and the theory's line."""
    column = QUANTITIES[quantity].column
    members = runs[runs["sweep"] == sweep.name]
    for group, (color, label) in group_colors(members, sweep.group_by).items():
        data = usable(members, column, group=group)
        if data.empty:
            continue
        points_panel(ax, data, sweep.fit_against, column, color,
                     f"{label}: {slope_text(scaling, quantity, sweep=sweep.name, group=group)}")
        row = slope_row(scaling, quantity, sweep=sweep.name, group=group)
        theory_line(ax, data, sweep.fit_against, column, np.nan if row is None else row["theory_slope"], color)
    ax.set_ylabel(QUANTITIES[quantity].label)
    ax.set_xlabel(axis_label(sweep.fit_against))
    legend(ax, fontsize=7, title="slope [interval]", title_fontsize=7)


def linearity_figure(runs: pd.DataFrame, scaling: pd.DataFrame, sweeps: tuple[SweepSpec, ...]) -> plt.Figure:
    """How linear is the network? For each sweep (a row), the linearisation error along the path, the gap to
    the linearised model trained alongside and ΔK against the sweep's axis, one colour per head."""
    fig, axes = subplots(len(sweeps), len(LINEARITY_PANELS), figsize=(5 * len(LINEARITY_PANELS), 4 * len(sweeps)),
                         squeeze=False)
    for row, sweep in zip(axes, sweeps):
        for ax, quantity in zip(row, LINEARITY_PANELS):
            _group_panel(ax, runs, scaling, sweep, quantity)
        row[0].set_title(sweep.name, fontsize=9, loc="left")
    shown = runs[runs["sweep"].isin([s.name for s in sweeps])]
    fig.suptitle(f"How linear is the network? Distance to its linearisation beside ΔK ({seed_note(shown)})",
                 fontsize=11)
    return fig


def kernel_limit_figure(runs: pd.DataFrame, scaling: pd.DataFrame, sweeps: tuple[SweepSpec, ...]) -> plt.Figure:
    """‖K(w₀) − Θ‖_F / ‖Θ‖_F against each sweep's axis (a panel per sweep with a derived Θ), theory −1/2
    where the axis is the width (K(w₀) is a mean of m i.i.d. terms with mean Θ)."""
    n_cols = min(max(len(sweeps), 1), 3)
    n_rows = -(-max(len(sweeps), 1) // n_cols)
    fig, axes = subplots(n_rows, n_cols, figsize=(5.5 * n_cols, 4.5 * n_rows), squeeze=False)
    for ax, sweep in zip(axes.flat, sweeps):
        _group_panel(ax, runs, scaling, sweep, KERNEL_DEVIATION)
        ax.set_title(sweep.name, fontsize=9)
    if not sweeps:
        legend(axes[0, 0])
    for ax in axes.flat[max(len(sweeps), 1):]:
        ax.set_visible(False)
    fig.suptitle("The tangent kernel at initialisation against its infinite-width limit Θ "
                 f"({seed_note(runs[runs['sweep'].isin([s.name for s in sweeps])])})", fontsize=11)
    return fig


def derived_sweeps(runs: pd.DataFrame, sweeps: tuple[SweepSpec, ...]) -> tuple[SweepSpec, ...]:
    """The sweeps with a run whose Θ is derived and whose deviation is usable (the panels of
    :func:`kernel_limit_figure`)."""
    column = QUANTITIES[KERNEL_DEVIATION].column
    return tuple(s for s in sweeps if not usable(runs[runs["sweep"] == s.name], column).empty)
