"""Figures of the report (Fig. 1, Fig. 2, Table 1 scaling, E5 weight change, E6 loss curves, the
parameterisation of Appendix B and the output scaling of Appendix A)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402
import pandas as pd  # noqa: E402

from ntk_linearity.pipelines.reporting.tables import diverged_note, slope_text, usable  # noqa: E402
from ntk_linearity.vocabulary import (  # noqa: E402
    ARCHITECTURES,
    AXES,
    FIG1_ARCHITECTURES,
    GROUP_COLORS,
    QUANTITIES,
)

SHALLOW_ARCHITECTURES = FIG1_ARCHITECTURES


def axis_label(axis: str) -> str:
    """``"width m"``, ``"bottleneck width $m_b$"``: an axis as the figures write it."""
    return AXES[axis].label


def _points_panel(ax, data: pd.DataFrame, axis: str, column: str, color: str, label: str,
                  linestyle: str = "-") -> None:
    """Every seed as a dot, the median over seeds as a line with the min-max band."""
    by_x = data.groupby(axis)[column]
    x = np.array(sorted(data[axis].unique()), float)
    ax.fill_between(x, by_x.min().to_numpy(), by_x.max().to_numpy(), color=color, alpha=0.15, lw=0)
    ax.plot(x, by_x.median().to_numpy(), linestyle, color=color, label=label)
    ax.plot(data[axis], data[column], "o", color=color, ms=3.5, alpha=0.7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # label decades and data points, not every minor tick
    ax.set_xticks(x, [f"{v:g}" for v in x], minor=False)
    ax.set_xlabel(axis_label(axis))
    ax.grid(True, which="both", alpha=0.25)


def _scaling_panel(ax, runs, table, architecture, column, quantity) -> None:
    """One paper architecture on its Table 1 axis, with its fitted slope and interval in the legend."""
    data = usable(runs, column, architecture=architecture)
    if data.empty:
        return
    spec = ARCHITECTURES[architecture]
    _points_panel(ax, data, spec.fit_axis, column, spec.color,
                  f"{spec.label}: slope {slope_text(table, quantity, architecture=architecture)}")


def _legend(ax, **kwargs) -> None:
    """The panel's legend, or "no usable runs" across it when nothing was drawn (no runs, or every
    run diverged): an empty panel says why it is empty."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)
    else:
        ax.text(0.5, 0.5, "no usable runs", ha="center", va="center", transform=ax.transAxes)


def _seed_note(runs: pd.DataFrame) -> str:
    if runs.empty:
        return "no runs"
    n_seeds = runs["seed"].nunique()
    note = f"{n_seeds} seed{'s' if n_seeds != 1 else ''}: dots are seeds, lines medians, bands min-max"
    diverged = diverged_note(runs)
    return f"{note}; {diverged} (not shown)" if diverged else note


def delta_k_vs_width(runs: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """Fig. 1 left: Delta K against width for each head, with the float32 noise floor."""
    fig, ax = plt.subplots(figsize=(8, 6))
    for architecture in SHALLOW_ARCHITECTURES:
        _scaling_panel(ax, runs, table, architecture, "delta_k", "delta_k")
    linear = usable(runs, "delta_k", architecture="linear_output")
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
    _legend(ax, fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    fig.tight_layout()
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
    fig, ax = plt.subplots(figsize=(7, 4.5))
    _per_run_lines(ax, _curves_at_width(curves, "delta_k", time_curve_width))
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("gradient descent step t (logarithmic beyond t = 1)")
    ax.set_ylabel(r"$\|K_t - K_0\|_F / \|K_0\|_F$")
    ax.set_title(f"Fig. 1 (right): kernel change along training, m = {time_curve_width} "
                 "(one line per seed)", fontsize=10)
    ax.grid(True, alpha=0.25)
    _legend(ax, fontsize=8)
    fig.tight_layout()
    return fig


def loss_curves(curves: pd.DataFrame, time_curve_width: int) -> plt.Figure:
    """E6 (Section 5, Theorem 5.1): training loss against step at width ``time_curve_width``."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    lines = _curves_at_width(curves, "loss", time_curve_width)
    _per_run_lines(ax, lines)
    if not lines.empty:
        ax.set_yscale("log")
    ax.set_xlabel("gradient descent step t")
    ax.set_ylabel("training loss L(w_t)")
    ax.set_title(f"E6: gradient descent converges for every head, m = {time_curve_width} "
                 "(one line per seed)", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    _legend(ax, fontsize=8)
    fig.tight_layout()
    return fig


def delta_k_vs_bottleneck(runs: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """Fig. 2: Delta K against the bottleneck width m_b (3 hidden layers, linear output)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    _scaling_panel(ax, runs, table, "bottleneck", "delta_k", "delta_k")
    widths = runs.loc[runs["architecture"] == "bottleneck", "width"].unique()
    linear = usable(runs, "delta_k", architecture="linear_output")
    for m in widths:
        reference = linear.loc[linear["width"] == m, "delta_k"]
        if not reference.empty:
            ax.axhline(reference.median(), color=ARCHITECTURES["linear_output"].color, ls="--", lw=1,
                       label=f"one hidden layer of width {m}, linear output (no bottleneck)")
    ax.set_ylabel(r"$\Delta K$")
    outer = f", m = {', '.join(map(str, widths))}" if len(widths) else ""
    ax.set_title(f"Fig. 2: kernel change vs bottleneck width{outer}\n{_seed_note(runs)}", fontsize=10)
    _legend(ax, fontsize=8)
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
        _legend(ax, fontsize=7.5)
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
        _legend(ax, fontsize=7.5)
    axes[0].set_title("Euclidean distance travelled (theory: slope 0)", fontsize=9)
    axes[1].set_title("largest single-weight change (theory: -1/2, linear output)", fontsize=9)
    fig.suptitle(f"E5: lazy training in the max norm only ({_seed_note(runs)})", fontsize=10)
    fig.tight_layout()
    return fig


def group_colors(runs: pd.DataFrame, group_by) -> dict[str, tuple[str, str]]:
    """(colour, label) of every group of a sweep: its architecture's when each group is its own
    architecture (the width sweep's heads), else a colour cycle and the group's axis values
    (``depth = 2``)."""
    groups = runs.drop_duplicates("group")
    if groups["architecture"].is_unique:
        return {row.group: (ARCHITECTURES[row.architecture].color, ARCHITECTURES[row.architecture].label)
                for row in groups.itertuples(index=False)}
    return {row["group"]: (GROUP_COLORS[i % len(GROUP_COLORS)],
                           ", ".join(f"{axis} = {row[axis]}" for axis in group_by) or row["group"])
            for i, (_, row) in enumerate(groups.iterrows())}


def sweep_figure(runs: pd.DataFrame, scaling: pd.DataFrame, *, sweep: str, fit_against: str,
                 group_by=()) -> plt.Figure:
    """Every measured quantity of one sweep against its fit axis: one line per group (median over
    seeds, min-max band), seeds as dots, the fitted slope with its interval in the legend."""
    quantities = [q for q in QUANTITIES if not usable(runs, QUANTITIES[q].column).empty] or list(QUANTITIES)
    n_cols = 3
    n_rows = -(-len(quantities) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(5 * n_cols, 4 * n_rows), squeeze=False)
    colors = group_colors(runs, group_by)
    for ax, quantity in zip(axes.flat, quantities):
        column = QUANTITIES[quantity].column
        for group, (color, label) in colors.items():
            data = usable(runs, column, group=group)
            if not data.empty:
                _points_panel(ax, data, fit_against, column, color,
                              f"{label}: {slope_text(scaling, quantity, sweep=sweep, group=group)}")
        ax.set_ylabel(QUANTITIES[quantity].label)
        ax.set_xlabel(axis_label(fit_against))
        _legend(ax, fontsize=7, title="slope [interval]", title_fontsize=7)
    for ax in axes.flat[len(quantities):]:
        ax.set_visible(False)
    fig.suptitle(f"{sweep}: measured quantities against {axis_label(fit_against)} ({_seed_note(runs)})",
                 fontsize=11)
    fig.tight_layout()
    return fig


def sweep_curves(runs: pd.DataFrame, curves: pd.DataFrame, *, sweep: str, fit_against: str,
                 group_by=()) -> plt.Figure:
    """The loss and Delta K(t) of every run of one sweep along training (E2, E6 for any sweep): one
    colour per group, solid at the largest value of the fit axis, dotted at the smallest, dashed
    between. Zero values (Delta K at t = 0) are off the logarithmic axis and not drawn."""
    members = runs[(runs["sweep"] == sweep) & ~runs["diverged"].astype(bool)]
    values = sorted(members[fit_against].dropna().unique())
    styles = {v: "-" if v == values[-1] else ":" if v == values[0] else "--" for v in values}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
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
            _legend(ax)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(left=0)
        ax.set_xlabel("gradient descent step t (logarithmic beyond t = 1)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.25)
    note = diverged_note(runs[runs["sweep"] == sweep])
    fig.suptitle(f"{sweep}: training loss and kernel change along training, one line per run (seed)"
                 + (f"; {note} (not shown)" if note else ""), fontsize=10)
    fig.tight_layout()
    return fig


PARAMETERIZATION_STYLES = {"ntk": "-", "standard": "--"}
PARAMETERIZATION_PANELS = (("ntk_diag", r"$K(x,x)=\|\nabla_w f\|^2$ at $w_0$"), ("hessian_norm", r"$\|H\|$ at $w_0$"),
                           ("hessian_ratio", r"$\|H\| / K(x,x)$ at $w_0$ (scale-free)"),
                           ("delta_k", r"$\Delta K$"))


def head_color(head: str) -> str:
    """The colour of a head: that of its one-hidden-layer architecture of Fig. 1 (blue linear, green
    swish, red softmax)."""
    return ARCHITECTURES.get(f"{head}_output", ARCHITECTURES["linear_output"]).color


def parameterization_figure(runs: pd.DataFrame, scaling: pd.DataFrame, *, sweeps=()) -> plt.Figure:
    """Appendix B: K(x, x), ||H||, the scale-free ||H|| / K(x, x) and Delta K against width for every
    (parameterisation, head) group of ``sweeps``: colour by head, solid NTK, dashed standard, the fitted
    slope with its interval in the legend."""
    members = runs[runs["sweep"].isin(sweeps)]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    for ax, (quantity, ylabel) in zip(axes.flat, PARAMETERIZATION_PANELS):
        column = QUANTITIES[quantity].column
        for (sweep, group), rows in members.groupby(["sweep", "group"], sort=False):
            data = usable(rows, column)
            if data.empty:
                continue
            first = rows.iloc[0]
            _points_panel(ax, data, "width", column, head_color(first["head"]),
                          f"{first['parameterization']}, {first['head']}: "
                          f"{slope_text(scaling, quantity, sweep=sweep, group=group)}",
                          PARAMETERIZATION_STYLES.get(first["parameterization"], ":"))
        ax.set_ylabel(ylabel)
        _legend(ax, fontsize=7, title="parameterisation, head: slope [interval]", title_fontsize=7)
    fig.suptitle("Appendix B: NTK (solid) against standard (dashed) parameterisation at the same "
                 f"$\\eta\\lambda_0$\n{_seed_note(members)}", fontsize=10)
    fig.tight_layout()
    return fig


def output_scaling_figure(runs: pd.DataFrame, scaling: pd.DataFrame, table: pd.DataFrame, *,
                          sweeps=()) -> plt.Figure:
    """Appendix A and Section 4: Delta K and ||w* - w_0||_2 against the output scale alpha (non-linear
    heads of ``sweeps``, fixed width; left) and against width at alpha = 1 (the one-hidden-layer
    networks of Fig. 1; right): scaling freezes every kernel by moving the weights less, width freezes
    only the linear output's while the weights move Theta(1)."""
    members = runs[runs["sweep"].isin(sweeps)]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), sharey="row")  # one scale: scaling against widening
    for row, (quantity, ylabel) in enumerate((("delta_k", r"$\Delta K$"),
                                              ("weight_change_l2", r"$\|w^* - w_0\|_2$"))):
        column = QUANTITIES[quantity].column
        for (sweep, group), rows in members.groupby(["sweep", "group"], sort=False):
            data = usable(rows, column)
            if not data.empty:
                _points_panel(axes[row, 0], data, "output_scale", column, head_color(rows["head"].iloc[0]),
                              f"{rows['head'].iloc[0]}: {slope_text(scaling, quantity, sweep=sweep, group=group)}")
        for architecture in SHALLOW_ARCHITECTURES:
            _scaling_panel(axes[row, 1], runs, table, architecture, column, quantity)
        widths = sorted(members["width"].dropna().unique())
        axes[row, 0].set_title(f"scaled by $\\alpha$ at m = {', '.join(f'{w:g}' for w in widths) or 'n/a'}",
                               fontsize=9)
        axes[row, 1].set_title(r"widened at $\alpha$ = 1 (the width sweep)", fontsize=9)
        axes[row, 0].set_ylabel(ylabel)
        for ax in axes[row]:
            _legend(ax, fontsize=7, title="slope [interval]", title_fontsize=7)
    fig.suptitle("Appendix A: output scaling freezes every kernel, width only the linear output's\n"
                 f"{_seed_note(members)}", fontsize=10)
    fig.tight_layout()
    return fig
