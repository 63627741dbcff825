"""Figures of the report (Fig. 1, Fig. 2, Table 1 scaling, E5 weight change, E6 loss curves)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ntk_linearity.pipelines.reporting.tables import (  # noqa: E402
    SHALLOW_ARCHITECTURES,
    diverged_note,
    slope_text,
    sweep_axis,
    usable,
)

COLORS = {"linear_output": "tab:blue", "softmax_output": "tab:red", "swish_output": "tab:green",
          "bottleneck": "tab:purple"}
LABELS = {"linear_output": "linear output", "softmax_output": "softmax output",
          "swish_output": "swish output", "bottleneck": "bottleneck"}
AXIS_LABELS = {"width": "width m", "bottleneck_width": "bottleneck width $m_b$"}


def _scaling_panel(ax, runs, table, architecture, column, quantity) -> None:
    """Every seed as a dot, the median over seeds as a line with the min-max band, and the
    fitted slope with its interval in the legend."""
    data = usable(runs, architecture, column)
    if data.empty:
        return
    axis = sweep_axis(architecture)
    color = COLORS[architecture]
    by_x = data.groupby(axis)[column]
    x = np.array(sorted(data[axis].unique()), float)
    ax.fill_between(x, by_x.min().to_numpy(), by_x.max().to_numpy(), color=color, alpha=0.15, lw=0)
    ax.plot(x, by_x.median().to_numpy(), "-", color=color,
            label=f"{LABELS[architecture]}: slope {slope_text(table, architecture, quantity)}")
    ax.plot(data[axis], data[column], "o", color=color, ms=3.5, alpha=0.7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(AXIS_LABELS[axis])
    ax.grid(True, which="both", alpha=0.25)


def _seed_note(runs: pd.DataFrame) -> str:
    note = f"{runs['seed'].nunique()} seeds: dots are seeds, lines medians, bands min-max"
    diverged = diverged_note(runs)
    return f"{note}; {diverged} (not shown)" if diverged else note


def delta_k_vs_width(runs: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """Fig. 1 left: Delta K against width for each head, with the float32 noise floor."""
    fig, ax = plt.subplots(figsize=(8, 6))
    for architecture in SHALLOW_ARCHITECTURES:
        _scaling_panel(ax, runs, table, architecture, "delta_k", "delta_k")
    linear = usable(runs, "linear_output", "delta_k")
    if not linear.empty:
        floors = linear.groupby("width")[["delta_k_noise_floor", "kernel_float32_rounding"]].median()
        ax.plot(floors.index, floors["delta_k_noise_floor"].clip(lower=1e-12), "k--", lw=1,
                label="noise floor of Delta K (float32 vs float64), linear output")
        ax.plot(floors.index, floors["kernel_float32_rounding"], "k:", lw=1,
                label="float32 rounding of K (floor of a naive difference)")
        below = linear[linear["delta_k"] <= linear["delta_k_noise_floor"]]
        if not below.empty:
            ax.plot(below["width"], below["delta_k"], "kx", ms=8, label="below its noise floor")
    ax.set_ylabel(r"$\Delta K = \sup_t \|K_t - K_0\|_F / \|K_0\|_F$")
    ax.set_title(f"Fig. 1 (left): kernel change vs width\n{_seed_note(runs)}", fontsize=10)
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    fig.tight_layout()
    return fig


def _curves_at_width(curves: pd.DataFrame, curve: str, width: int) -> pd.DataFrame:
    return curves[(curves["curve"] == curve) & (curves["width"] == width)
                  & curves["bottleneck_width"].isna()]


def _per_run_lines(ax, curves: pd.DataFrame) -> None:
    for architecture in SHALLOW_ARCHITECTURES:
        rows = curves[curves["architecture"] == architecture]
        for i, (_, run) in enumerate(rows.groupby("namespace")):
            ax.plot(run["step"], run["value"], "-", color=COLORS[architecture], lw=1.2, alpha=0.8,
                    marker=".", ms=3, label=LABELS[architecture] if i == 0 else None)


def delta_k_vs_time(curves: pd.DataFrame, time_curve_width: int) -> plt.Figure:
    """Fig. 1 right: Delta K(t) along training at width m = ``time_curve_width``."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    _per_run_lines(ax, _curves_at_width(curves, "delta_k", time_curve_width))
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("gradient descent step t (logarithmic beyond t = 1)")
    ax.set_ylabel(r"$\|K_t - K_0\|_F / \|K_0\|_F$")
    ax.set_title(f"Fig. 1 (right): kernel change along training, m = {time_curve_width} "
                 "(one line per seed)", fontsize=10)
    ax.grid(True, alpha=0.25)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def loss_curves(curves: pd.DataFrame, time_curve_width: int) -> plt.Figure:
    """E6 (Section 5, Theorem 5.1): training loss against step at width ``time_curve_width``."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    _per_run_lines(ax, _curves_at_width(curves, "loss", time_curve_width))
    ax.set_yscale("log")
    ax.set_xlabel("gradient descent step t")
    ax.set_ylabel("training loss L(w_t)")
    ax.set_title(f"E6: gradient descent converges for every head, m = {time_curve_width} "
                 "(one line per seed)", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def delta_k_vs_bottleneck(runs: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """Fig. 2: Delta K against the bottleneck width m_b (3 hidden layers, linear output)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    _scaling_panel(ax, runs, table, "bottleneck", "delta_k", "delta_k")
    widths = runs.loc[runs["architecture"] == "bottleneck", "width"].unique()
    linear = usable(runs, "linear_output", "delta_k")
    for m in widths:
        reference = linear.loc[linear["width"] == m, "delta_k"]
        if not reference.empty:
            ax.axhline(reference.median(), color=COLORS["linear_output"], ls="--", lw=1,
                       label=f"one hidden layer of width {m}, linear output (no bottleneck)")
    ax.set_ylabel(r"$\Delta K$")
    ax.set_title(f"Fig. 2: kernel change vs bottleneck width, m = {', '.join(map(str, widths))}\n"
                 f"{_seed_note(runs)}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def hessian_scaling(runs: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """E4 / Table 1: ||H|| and K(x, x) at initialisation against width, for every architecture."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    panels = [
        (axes[0, 0], SHALLOW_ARCHITECTURES, "hessian_norm_init", "hessian_norm", r"$\|H\|$ at $w_0$"),
        (axes[0, 1], SHALLOW_ARCHITECTURES, "ntk_diag_init", "ntk_diag", r"$K(x,x)=\|\nabla_w f\|^2$"),
        (axes[1, 0], ("bottleneck",), "hessian_norm_init", "hessian_norm", r"$\|H\|$ at $w_0$"),
        (axes[1, 1], ("bottleneck",), "ntk_diag_init", "ntk_diag", r"$K(x,x)=\|\nabla_w f\|^2$"),
    ]
    for ax, architectures, column, quantity, ylabel in panels:
        for architecture in architectures:
            _scaling_panel(ax, runs, table, architecture, column, quantity)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7.5)
    axes[0, 0].set_title("one hidden layer: Hessian norm (theory: -1/2 linear, 0 non-linear)", fontsize=9)
    axes[0, 1].set_title("one hidden layer: tangent kernel diagonal (theory: 0)", fontsize=9)
    axes[1, 0].set_title("bottleneck network: Hessian norm vs $m_b$", fontsize=9)
    axes[1, 1].set_title("bottleneck network: tangent kernel diagonal vs $m_b$", fontsize=9)
    fig.suptitle(f"E4: Hessian and gradient scaling ({_seed_note(runs)})", fontsize=10)
    fig.tight_layout()
    return fig


def weight_change_norms(runs: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """E5 (Section 1, Eq. 2): ||w* - w_0||_2 stays Theta(1) while ||w* - w_0||_inf shrinks."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, quantity, ylabel in ((axes[0], "weight_change_l2", r"$\|w^* - w_0\|_2$"),
                                 (axes[1], "weight_change_linf", r"$\|w^* - w_0\|_\infty$")):
        for architecture in SHALLOW_ARCHITECTURES:
            _scaling_panel(ax, runs, table, architecture, quantity, quantity)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7.5)
    axes[0].set_title("Euclidean distance travelled (theory: slope 0)", fontsize=9)
    axes[1].set_title("largest single-weight change (theory: -1/2, linear output)", fontsize=9)
    fig.suptitle(f"E5: lazy training in the max norm only ({_seed_note(runs)})", fontsize=10)
    fig.tight_layout()
    return fig
