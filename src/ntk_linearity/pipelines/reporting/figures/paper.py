"""The paper's figures: Fig. 1 (Delta K against width and along training), Fig. 2 (the bottleneck),
Table 1's scaling of ||H|| and K(x, x) (E4), the weight change (E5) and the loss curves (E6)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ntk_linearity.pipelines.reporting.figures.style import (
    SHALLOW_ARCHITECTURES,
    legend,
    scaling_panel,
    seed_note,
    subplots,
)
from ntk_linearity.pipelines.reporting.tables import usable
from ntk_linearity.experiment.vocabulary import ARCHITECTURES, BOTTLENECK, FIG1_ARCHITECTURES, LINEAR_HEAD


def delta_k_vs_width(runs: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """Fig. 1 left: Delta K against width for each head, with the float32 noise floor."""
    fig, ax = subplots(figsize=(8, 6))
    for architecture in SHALLOW_ARCHITECTURES:
        scaling_panel(ax, runs, table, architecture, "delta_k", "delta_k")
    linear = usable(runs, "delta_k", architecture=LINEAR_HEAD)
    if not linear.empty:
        floors = linear.groupby("width")[["delta_k_noise_floor", "kernel_float32_rounding"]].median()
        ax.plot(floors.index, floors["delta_k_noise_floor"].clip(lower=1e-12), "k--", lw=1,
                label="noise floor of ΔK (float32 vs float64), linear output")
        ax.plot(floors.index, floors["kernel_float32_rounding"], "k:", lw=1,
                label="float32 rounding of K (floor of a naive difference)")
        below = linear[linear["delta_k"] <= linear["delta_k_noise_floor"]]
        if not below.empty:
            ax.plot(below["width"], below["delta_k"], "kx", ms=8, label="below its noise floor")
    ax.set_ylabel(r"$\Delta K = \sup_t \|K_t - K_0\|_F / \|K_0\|_F$")
    ax.set_title(f"Fig. 1 (left): kernel change vs width\n{seed_note(runs)}", fontsize=10)
    legend(ax, fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    return fig


def _curves_at_width(curves: pd.DataFrame, curve: str, width: int) -> pd.DataFrame:
    return curves[(curves["curve"] == curve) & (curves["width"] == width)
                  & curves["architecture"].isin(FIG1_ARCHITECTURES)]


def _per_run_lines(ax, curves: pd.DataFrame) -> None:
    for architecture in SHALLOW_ARCHITECTURES:
        rows = curves[curves["architecture"] == architecture]
        for i, (_, run) in enumerate(rows.groupby("namespace")):
            ax.plot(run["step"], run["value"], "-", color=ARCHITECTURES[architecture].color, lw=1.2,
                    alpha=0.8, marker=".", ms=3, label=ARCHITECTURES[architecture].label if i == 0 else None)


def delta_k_vs_time(curves: pd.DataFrame, time_curve_width: int) -> plt.Figure:
    """Fig. 1 right: Delta K(t) along training at width m = ``time_curve_width``."""
    fig, ax = subplots(figsize=(7, 4.5))
    _per_run_lines(ax, _curves_at_width(curves, "delta_k", time_curve_width))
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("gradient descent step t (logarithmic beyond t = 1)")
    ax.set_ylabel(r"$\|K_t - K_0\|_F / \|K_0\|_F$")
    ax.set_title(f"Fig. 1 (right): kernel change along training, m = {time_curve_width} "
                 "(one line per seed)", fontsize=10)
    ax.grid(True, alpha=0.25)
    legend(ax, fontsize=8)
    return fig


def loss_curves(curves: pd.DataFrame, time_curve_width: int) -> plt.Figure:
    """E6 (Section 5, Theorem 5.1): training loss against step at width ``time_curve_width``."""
    fig, ax = subplots(figsize=(7, 4.5))
    lines = _curves_at_width(curves, "loss", time_curve_width)
    _per_run_lines(ax, lines)
    if not lines.empty:
        ax.set_yscale("log")
    ax.set_xlabel("gradient descent step t")
    ax.set_ylabel("training loss L(w_t)")
    ax.set_title(f"E6: gradient descent converges for every head, m = {time_curve_width} "
                 "(one line per seed)", fontsize=10)
    ax.grid(True, which="major", alpha=0.25)
    legend(ax, fontsize=8)
    return fig


def delta_k_vs_bottleneck(runs: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """Fig. 2: Delta K against the bottleneck width m_b (3 hidden layers, linear output)."""
    fig, ax = subplots(figsize=(7, 4.5))
    scaling_panel(ax, runs, table, BOTTLENECK, "delta_k", "delta_k")
    widths = runs.loc[runs["architecture"] == BOTTLENECK, "width"].unique()
    linear = usable(runs, "delta_k", architecture=LINEAR_HEAD)
    for m in widths:
        reference = linear.loc[linear["width"] == m, "delta_k"]
        if not reference.empty:
            ax.axhline(reference.median(), color=ARCHITECTURES[LINEAR_HEAD].color, ls="--", lw=1,
                       label=f"one hidden layer of width {m:g}, linear output (no bottleneck)")
    ax.set_ylabel(r"$\Delta K$")
    outer = f", m = {', '.join(f'{m:g}' for m in widths)}" if len(widths) else ""
    ax.set_title(f"Fig. 2: kernel change vs bottleneck width{outer}\n{seed_note(runs)}", fontsize=10)
    legend(ax, fontsize=8)
    return fig


def hessian_scaling(runs: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """E4 / Table 1: ||H|| and K(x, x) at initialisation against width, for every architecture."""
    fig, axes = subplots(2, 2, figsize=(11, 8))
    panels = [
        (axes[0, 0], SHALLOW_ARCHITECTURES, "hessian_norm_init", "hessian_norm", r"$\|H\|$ at $w_0$"),
        (axes[0, 1], SHALLOW_ARCHITECTURES, "ntk_diag_init", "ntk_diag", r"$K(x,x)=\|\nabla_w f\|^2$"),
        (axes[1, 0], (BOTTLENECK,), "hessian_norm_init", "hessian_norm", r"$\|H\|$ at $w_0$"),
        (axes[1, 1], (BOTTLENECK,), "ntk_diag_init", "ntk_diag", r"$K(x,x)=\|\nabla_w f\|^2$"),
    ]
    for ax, architectures, column, quantity, ylabel in panels:
        for architecture in architectures:
            scaling_panel(ax, runs, table, architecture, column, quantity)
        ax.set_ylabel(ylabel)
        legend(ax, fontsize=7.5)
    axes[0, 0].set_title("one hidden layer: Hessian norm (theory: -1/2 linear, 0 non-linear)", fontsize=9)
    axes[0, 1].set_title("one hidden layer: tangent kernel diagonal (theory: 0)", fontsize=9)
    axes[1, 0].set_title("bottleneck network: Hessian norm vs $m_b$", fontsize=9)
    axes[1, 1].set_title("bottleneck network: tangent kernel diagonal vs $m_b$", fontsize=9)
    fig.suptitle(f"E4: Hessian and gradient scaling ({seed_note(runs)})", fontsize=10)
    return fig


def weight_change_norms(runs: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """E5 (Section 1, Eq. 2): ||w* - w_0||_2 stays Theta(1) while ||w* - w_0||_inf shrinks."""
    fig, axes = subplots(1, 2, figsize=(11, 4.5))
    for ax, quantity, ylabel in ((axes[0], "weight_change_l2", r"$\|w^* - w_0\|_2$"),
                                 (axes[1], "weight_change_linf", r"$\|w^* - w_0\|_\infty$")):
        for architecture in SHALLOW_ARCHITECTURES:
            scaling_panel(ax, runs, table, architecture, quantity, quantity)
        ax.set_ylabel(ylabel)
        legend(ax, fontsize=7.5)
    axes[0].set_title("Euclidean distance travelled (theory: slope 0)", fontsize=9)
    axes[1].set_title("largest single-weight change (theory: -1/2, linear output)", fontsize=9)
    fig.suptitle(f"E5: lazy training in the max norm only ({seed_note(runs)})", fontsize=10)
    return fig
