"""What every figure of the report shares: the constrained layout, a panel of seeds, medians and
min-max bands on log-log axes with few ticks, the legend that says when a panel is empty, and the
colours of a sweep's groups."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import LogLocator, NullLocator
import pandas as pd

from ntk_linearity.pipelines.reporting.statements.formatting import value_text
from ntk_linearity.pipelines.reporting.tables import diverged_note, slope_text, usable
from ntk_linearity.experiment.vocabulary import ARCHITECTURES, AXES, FIG1_ARCHITECTURES, GROUP_COLORS


SHALLOW_ARCHITECTURES = FIG1_ARCHITECTURES


def axis_label(axis: str) -> str:
    """``"width m"``, ``"bottleneck width $m_b$"``: an axis as the figures write it."""
    return AXES[axis].label


def points_panel(ax, data: pd.DataFrame, axis: str, column: str, color: str, label: str,
                  linestyle: str = "-") -> None:
    """Every seed as a dot, the median over seeds as a line with the min-max band."""
    by_x = data.groupby(axis)[column]
    x = np.array(sorted(data[axis].unique()), float)
    ax.fill_between(x, by_x.min().to_numpy(), by_x.max().to_numpy(), color=color, alpha=0.15, lw=0)
    ax.plot(x, by_x.median().to_numpy(), linestyle, color=color, label=label)
    ax.plot(data[axis], data[column], "o", color=color, ms=3.5, alpha=0.7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    # Few tick objects (they cost most of a figure's drawing time): the data's own x values label the x
    # axis; on y, minor ticks at 1.5, 2, 3, 5 and 7 per decade label a panel that spans less than a decade
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_locator(LogLocator(subs=(1.5, 2.0, 3.0, 5.0, 7.0)))
    ax.set_xticks(x, [f"{v:g}" for v in x], minor=False)
    ax.set_xlabel(axis_label(axis))
    ax.grid(True, which="major", alpha=0.25)


def scaling_panel(ax, runs, table, architecture, column, quantity) -> None:
    """One paper architecture on its Table 1 axis, with its fitted slope and interval in the legend."""
    data = usable(runs, column, architecture=architecture)
    if data.empty:
        return
    spec = ARCHITECTURES[architecture]
    points_panel(ax, data, spec.fit_axis, column, spec.color,
                  f"{spec.label}: slope {slope_text(table, quantity, architecture=architecture)}")


def subplots(*args, **kwargs):
    """``plt.subplots`` laid out by the constrained layout engine, once, while the figure is drawn
    (``tight_layout`` draws the whole figure one extra time to measure it)."""
    return plt.subplots(*args, layout="constrained", **kwargs)


def legend(ax, **kwargs) -> None:
    """The panel's legend, or "no usable runs" across it when nothing was drawn (no runs, or every
    run diverged): an empty panel says why it is empty."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)
    else:
        ax.text(0.5, 0.5, "no usable runs", ha="center", va="center", transform=ax.transAxes)


def seed_note(runs: pd.DataFrame) -> str:
    if runs.empty:
        return "no runs"
    n_seeds = runs["seed"].nunique()
    note = f"{n_seeds} seed{'s' if n_seeds != 1 else ''}: dots are seeds, lines medians, bands min-max"
    diverged = diverged_note(runs)
    return f"{note}; {diverged} (not shown)" if diverged else note


def group_colors(runs: pd.DataFrame, group_by) -> dict[str, tuple[str, str]]:
    """(colour, label) of every group of a sweep: its architecture's when each group is its own
    architecture (the width sweep's heads), else a colour cycle and the group's axis values
    (``depth = 2``)."""
    groups = runs.drop_duplicates("group")
    if groups["architecture"].is_unique:
        return {row.group: (ARCHITECTURES[row.architecture].color, ARCHITECTURES[row.architecture].label)
                for row in groups.itertuples(index=False)}
    return {row["group"]: (GROUP_COLORS[i % len(GROUP_COLORS)],
                           ", ".join(f"{axis} = {value_text(row[axis])}" for axis in group_by) or row["group"])
            for i, (_, row) in enumerate(groups.iterrows())}
