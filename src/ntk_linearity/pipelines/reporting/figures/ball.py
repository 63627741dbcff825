"""The figures of the ball of Proposition 2.2: sup ||H|| in the ball against width, and the
measured kernel change against its bound."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ntk_linearity.pipelines.reporting.figures.style import legend, points_panel, subplots
from ntk_linearity.pipelines.reporting.tables import ball_group, ball_sups, slope_text
from ntk_linearity.experiment.vocabulary import ARCHITECTURES, BALL_HESSIAN_SUP, LINEAR_HEAD


RADIUS_MARKERS = ("v", "o", "^", "s", "D", "P", "X")


def ball_hessian(ball: pd.DataFrame, scaling: pd.DataFrame) -> plt.Figure:
    """sup ||H|| in the ball B(w_0, R) against width: one panel per architecture, one line per
    configured radius R (median over seeds, min-max band, seeds as dots), the fitted slope and its
    interval in the legend (the ``ball_hessian_sup`` rows of ``scaling.csv``)."""
    sups = ball_sups(ball)
    architectures = list(dict.fromkeys(sups["architecture"])) or [LINEAR_HEAD]
    fig, axes = subplots(1, len(architectures), figsize=(6 * len(architectures), 4.6), squeeze=False)
    for ax, architecture in zip(axes.flat, architectures):
        members = sups[sups["architecture"] == architecture]
        spec = ARCHITECTURES[architecture]
        labels = list(dict.fromkeys(members["radius_label"]))
        cmap = plt.get_cmap("viridis")
        for i, label in enumerate(labels):
            data = members[members["radius_label"] == label]
            color = cmap(i / max(len(labels) - 1, 1) * 0.85)
            rows = scaling[(scaling["quantity"] == BALL_HESSIAN_SUP.name) & (scaling["architecture"] == architecture)
                           & (scaling["group"] == ball_group(data["group"].iloc[0], label))]
            slope = slope_text(rows, BALL_HESSIAN_SUP.name) if len(rows) else "n/a"
            points_panel(ax, data, spec.fit_axis, "hessian_sup", color, f"R = {label}: slope {slope}")
            ax.lines[-1].set_marker(RADIUS_MARKERS[i % len(RADIUS_MARKERS)])
        theory = spec.theory.get(BALL_HESSIAN_SUP.name)
        ax.set_title(f"{spec.label} (theory: slope {theory:+.1f})" if theory is not None else spec.label,
                     fontsize=10)
        ax.set_ylabel(BALL_HESSIAN_SUP.label + " (max over probe inputs)")
        legend(ax, fontsize=7.5, title="radius: slope [interval]", title_fontsize=7.5)
    n_dirs = int(ball.loc[ball["kind"] == "ball", "direction"].max()) + 1 if (ball["kind"] == "ball").any() else 0
    fig.suptitle("Proposition 2.2: sup of the Hessian norm in the ball $B(w_0, R)$ against width "
                 f"({n_dirs} directions per R, segments and path inside the ball; R* = $\\|w^* - w_0\\|_2$)",
                 fontsize=10)
    return fig


def ball_bound(ball: pd.DataFrame) -> plt.Figure:
    """Left: the measured kernel change against the bound of Proposition 2.2 at every point (ball
    samples and path points), with the diagonal (the bound; no point may lie above it). Right: the
    ratio against the distance from w_0 in units of R* = ||w* - w_0||_2, by architecture and width."""
    fig, axes = subplots(1, 2, figsize=(12.5, 5))
    data = ball[(ball["kernel_bound"] > 0) & (ball["kernel_change"] > 0)]
    widths = sorted(data["width"].unique())
    sizes = {w: 14 + 14 * i for i, w in enumerate(widths)}
    path_length = ball[ball["kind"] == "path"].groupby("namespace")["radius"].first()
    for architecture, members in data.groupby("architecture", sort=False):
        color = ARCHITECTURES[architecture].color
        for kind, marker in (("ball", "o"), ("path", "x")):
            rows = members[members["kind"] == kind]
            if rows.empty:
                continue
            label = f"{ARCHITECTURES[architecture].label}, {'ball samples' if kind == 'ball' else 'path to w*'}"
            axes[0].scatter(rows["kernel_bound"], rows["kernel_change"], s=rows["width"].map(sizes), c=color,
                            marker=marker, alpha=0.55, lw=0.8 if kind == "path" else 0, label=label)
            scaled = rows["distance"] / rows["namespace"].map(path_length)
            axes[1].scatter(scaled, rows["ratio"], s=rows["width"].map(sizes), c=color, marker=marker,
                            alpha=0.55, lw=0.8 if kind == "path" else 0, label=label)
    if not data.empty:
        low = min(data["kernel_bound"].min(), data["kernel_change"].min()) / 2
        high = max(data["kernel_bound"].max(), data["kernel_change"].max()) * 2
        axes[0].plot([low, high], [low, high], "k-", lw=1, label="bound (measured = bound)")
        axes[0].set_xscale("log")
        axes[0].set_yscale("log")
        axes[1].set_yscale("log")
        axes[1].axhline(1.0, color="k", lw=1, label="ratio 1 (the bound)")
        worst = data["ratio"].max()
        axes[1].set_title(f"measured / bound: largest {worst:.3g} (must be <= 1)", fontsize=10)
    axes[0].set_xlabel(r"bound $\|B\|_F / \|K(w_0)\|_F$ (Proposition 2.2, explicit)")
    axes[0].set_ylabel(r"measured $\|K(w) - K(w_0)\|_F / \|K(w_0)\|_F$")
    axes[0].set_title("kernel change against its bound at every point", fontsize=10)
    axes[1].set_xlabel(r"distance from $w_0$ in units of $R^* = \|w^* - w_0\|_2$")
    axes[1].set_ylabel("measured / bound")
    for ax in axes:
        ax.grid(True, which="major", alpha=0.25)
        legend(ax, fontsize=7)
    note = f"marker size: width m = {', '.join(str(int(w)) for w in widths)}" if widths else "no points"
    fig.suptitle(f"Proposition 2.2: the kernel moves no further than the Hessian allows ({note})", fontsize=10)
    return fig
