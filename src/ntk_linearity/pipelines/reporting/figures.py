"""Figures of the report (Fig. 1, Fig. 2, Table 1 scaling, E5 weight change, E6 loss curves, the
parameterisation of Appendix B and the output scaling of Appendix A)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import LogLocator, NullFormatter, NullLocator  # noqa: E402
import pandas as pd  # noqa: E402

from ntk_linearity.pipelines.reporting.tables import (  # noqa: E402
    ball_group,
    ball_sups,
    diverged_note,
    slope_text,
    usable,
)
from ntk_linearity.experiment.vocabulary import (  # noqa: E402
    ARCHITECTURES,
    AXES,
    BALL_HESSIAN_SUP,
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
    # Few tick objects (they cost most of a figure's drawing time): the data's own x values label the x
    # axis; on y, minor ticks at 1.5, 2, 3, 5 and 7 per decade label a panel that spans less than a decade
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_locator(LogLocator(subs=(1.5, 2.0, 3.0, 5.0, 7.0)))
    ax.set_xticks(x, [f"{v:g}" for v in x], minor=False)
    ax.set_xlabel(axis_label(axis))
    ax.grid(True, which="major", alpha=0.25)


def _scaling_panel(ax, runs, table, architecture, column, quantity) -> None:
    """One paper architecture on its Table 1 axis, with its fitted slope and interval in the legend."""
    data = usable(runs, column, architecture=architecture)
    if data.empty:
        return
    spec = ARCHITECTURES[architecture]
    _points_panel(ax, data, spec.fit_axis, column, spec.color,
                  f"{spec.label}: slope {slope_text(table, quantity, architecture=architecture)}")


def _subplots(*args, **kwargs):
    """``plt.subplots`` laid out by the constrained layout engine, once, while the figure is drawn
    (``tight_layout`` draws the whole figure one extra time to measure it)."""
    return plt.subplots(*args, layout="constrained", **kwargs)


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
    fig, ax = _subplots(figsize=(8, 6))
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
    fig, ax = _subplots(figsize=(7, 4.5))
    _per_run_lines(ax, _curves_at_width(curves, "delta_k", time_curve_width))
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("gradient descent step t (logarithmic beyond t = 1)")
    ax.set_ylabel(r"$\|K_t - K_0\|_F / \|K_0\|_F$")
    ax.set_title(f"Fig. 1 (right): kernel change along training, m = {time_curve_width} "
                 "(one line per seed)", fontsize=10)
    ax.grid(True, alpha=0.25)
    _legend(ax, fontsize=8)
    return fig


def loss_curves(curves: pd.DataFrame, time_curve_width: int) -> plt.Figure:
    """E6 (Section 5, Theorem 5.1): training loss against step at width ``time_curve_width``."""
    fig, ax = _subplots(figsize=(7, 4.5))
    lines = _curves_at_width(curves, "loss", time_curve_width)
    _per_run_lines(ax, lines)
    if not lines.empty:
        ax.set_yscale("log")
    ax.set_xlabel("gradient descent step t")
    ax.set_ylabel("training loss L(w_t)")
    ax.set_title(f"E6: gradient descent converges for every head, m = {time_curve_width} "
                 "(one line per seed)", fontsize=10)
    ax.grid(True, which="major", alpha=0.25)
    _legend(ax, fontsize=8)
    return fig


def delta_k_vs_bottleneck(runs: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """Fig. 2: Delta K against the bottleneck width m_b (3 hidden layers, linear output)."""
    fig, ax = _subplots(figsize=(7, 4.5))
    _scaling_panel(ax, runs, table, "bottleneck", "delta_k", "delta_k")
    widths = runs.loc[runs["architecture"] == "bottleneck", "width"].unique()
    linear = usable(runs, "delta_k", architecture="linear_output")
    for m in widths:
        reference = linear.loc[linear["width"] == m, "delta_k"]
        if not reference.empty:
            ax.axhline(reference.median(), color=ARCHITECTURES["linear_output"].color, ls="--", lw=1,
                       label=f"one hidden layer of width {m:g}, linear output (no bottleneck)")
    ax.set_ylabel(r"$\Delta K$")
    outer = f", m = {', '.join(f'{m:g}' for m in widths)}" if len(widths) else ""
    ax.set_title(f"Fig. 2: kernel change vs bottleneck width{outer}\n{_seed_note(runs)}", fontsize=10)
    _legend(ax, fontsize=8)
    return fig


def hessian_scaling(runs: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """E4 / Table 1: ||H|| and K(x, x) at initialisation against width, for every architecture."""
    fig, axes = _subplots(2, 2, figsize=(11, 8))
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
    return fig


def weight_change_norms(runs: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """E5 (Section 1, Eq. 2): ||w* - w_0||_2 stays Theta(1) while ||w* - w_0||_inf shrinks."""
    fig, axes = _subplots(1, 2, figsize=(11, 4.5))
    for ax, quantity, ylabel in ((axes[0], "weight_change_l2", r"$\|w^* - w_0\|_2$"),
                                 (axes[1], "weight_change_linf", r"$\|w^* - w_0\|_\infty$")):
        for architecture in SHALLOW_ARCHITECTURES:
            _scaling_panel(ax, runs, table, architecture, quantity, quantity)
        ax.set_ylabel(ylabel)
        _legend(ax, fontsize=7.5)
    axes[0].set_title("Euclidean distance travelled (theory: slope 0)", fontsize=9)
    axes[1].set_title("largest single-weight change (theory: -1/2, linear output)", fontsize=9)
    fig.suptitle(f"E5: lazy training in the max norm only ({_seed_note(runs)})", fontsize=10)
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
    fig, axes = _subplots(n_rows, n_cols, figsize=(5 * n_cols, 4 * n_rows), squeeze=False)
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
    return fig


def sweep_curves(runs: pd.DataFrame, curves: pd.DataFrame, *, sweep: str, fit_against: str,
                 group_by=()) -> plt.Figure:
    """The loss and Delta K(t) of every run of one sweep along training (E2, E6 for any sweep): one
    colour per group, solid at the largest value of the fit axis, dotted at the smallest, dashed
    between. Zero values (Delta K at t = 0) are off the logarithmic axis and not drawn."""
    members = runs[(runs["sweep"] == sweep) & ~runs["diverged"].astype(bool)]
    values = sorted(members[fit_against].dropna().unique())
    styles = {v: "-" if v == values[-1] else ":" if v == values[0] else "--" for v in values}
    fig, axes = _subplots(1, 2, figsize=(12, 4.5))
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
        ax.grid(True, which="major", alpha=0.25)
    note = diverged_note(runs[runs["sweep"] == sweep])
    fig.suptitle(f"{sweep}: training loss and kernel change along training, one line per run (seed)"
                 + (f"; {note} (not shown)" if note else ""), fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------
# The step size across the linearised stability limit (catapult) and Theorem 5.1's rate
# ---------------------------------------------------------------------------------------------

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
    fig, (left, right) = _subplots(1, 2, figsize=(13, 5))
    colors = ratio_colors(members["eta_lambda0"].unique())
    for ratio, group in members.groupby("eta_lambda0"):
        data = usable(group, "delta_k")
        if not data.empty:
            name = group["group"].iloc[0]
            _points_panel(left, data, fit_against, "delta_k", colors[float(ratio)],
                          rf"$\eta\lambda_0$ = {ratio:g}: slope {slope_text(scaling, 'delta_k', sweep=sweep, group=name)}")
    left.set_ylabel(r"$\Delta K = \sup_t \|K_t - K_0\|_F / \|K_0\|_F$")
    left.set_title(r"kernel change vs width for each $\eta\lambda_0$ (blue: below 2, red: above)", fontsize=9)
    _legend(left, fontsize=7, title="slope [interval]", title_fontsize=7)

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
    _legend(right, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle(f"{sweep}: the step size across the linearised stability limit ({_seed_note(members)})",
                 fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------
# The ball of Proposition 2.2
# ---------------------------------------------------------------------------------------------

RADIUS_MARKERS = ("v", "o", "^", "s", "D", "P", "X")


def ball_hessian(ball: pd.DataFrame, scaling: pd.DataFrame) -> plt.Figure:
    """sup ||H|| in the ball B(w_0, R) against width: one panel per architecture, one line per
    configured radius R (median over seeds, min-max band, seeds as dots), the fitted slope and its
    interval in the legend (the ``ball_hessian_sup`` rows of ``scaling.csv``)."""
    sups = ball_sups(ball)
    architectures = list(dict.fromkeys(sups["architecture"])) or ["linear_output"]
    fig, axes = _subplots(1, len(architectures), figsize=(6 * len(architectures), 4.6), squeeze=False)
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
            _points_panel(ax, data, spec.fit_axis, "hessian_sup", color, f"R = {label}: slope {slope}")
            ax.lines[-1].set_marker(RADIUS_MARKERS[i % len(RADIUS_MARKERS)])
        theory = spec.theory.get(BALL_HESSIAN_SUP.name)
        ax.set_title(f"{spec.label} (theory: slope {theory:+.1f})" if theory is not None else spec.label,
                     fontsize=10)
        ax.set_ylabel(BALL_HESSIAN_SUP.label + " (max over probe inputs)")
        _legend(ax, fontsize=7.5, title="radius: slope [interval]", title_fontsize=7.5)
    n_dirs = int(ball.loc[ball["kind"] == "ball", "direction"].max()) + 1 if (ball["kind"] == "ball").any() else 0
    fig.suptitle("Proposition 2.2: sup of the Hessian norm in the ball $B(w_0, R)$ against width "
                 f"({n_dirs} directions per R, segments and path inside the ball; R* = $\\|w^* - w_0\\|_2$)",
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
    fig, (top, bottom) = _subplots(2, 1, figsize=(8, 8), sharex=True)
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
            _legend(ax)
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
    fig.suptitle(f"{sweep}: loss spike and top kernel eigenvalue along training, {AXES[fit_against].token or fit_against} = {width}"
                 + (f"\n{note} (no curves)" if note else ""), fontsize=10)
    return fig


def convergence_rate(runs: pd.DataFrame, *, sweep: str, fit_against: str, group_by=()) -> plt.Figure:
    """Theorem 5.1 along the path: min_t lambda_min(K_t/n) against width per group, and the fitted
    exponential rate of the loss tail against eta lambda_min with the lines rate = eta lambda_min
    (the guarantee of Eq. 15) and rate = 2 eta lambda_min (the slowest mode of the linearised model)."""
    members = runs[runs["sweep"] == sweep]
    fig, (left, right) = _subplots(1, 2, figsize=(12, 4.8))
    colors = group_colors(members, group_by) if not members.empty else {}
    predicted = []
    for group, (color, label) in colors.items():
        data = usable(members, "lambda_min_path", group=group)
        if not data.empty:
            _points_panel(left, data, fit_against, "lambda_min_path", color, label)
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
    _legend(left, fontsize=7.5)
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
    _legend(right, fontsize=7.5)
    fig.suptitle(f"{sweep}: Theorem 5.1's rate ({_seed_note(members)})", fontsize=10)
    return fig


def ball_bound(ball: pd.DataFrame) -> plt.Figure:
    """Left: the measured kernel change against the bound of Proposition 2.2 at every point (ball
    samples and path points), with the diagonal (the bound; no point may lie above it). Right: the
    ratio against the distance from w_0 in units of R* = ||w* - w_0||_2, by architecture and width."""
    fig, axes = _subplots(1, 2, figsize=(12.5, 5))
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
        _legend(ax, fontsize=7)
    note = f"marker size: width m = {', '.join(str(int(w)) for w in widths)}" if widths else "no points"
    fig.suptitle(f"Proposition 2.2: the kernel moves no further than the Hessian allows ({note})", fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------
# The parameterisation (Appendix B) and the output scale (Appendix A)
# ---------------------------------------------------------------------------------------------

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
    fig, axes = _subplots(2, 2, figsize=(12, 8.5))
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
    return fig


def output_scaling_figure(runs: pd.DataFrame, scaling: pd.DataFrame, table: pd.DataFrame, *,
                          sweeps=()) -> plt.Figure:
    """Appendix A and Section 4: Delta K and ||w* - w_0||_2 against the output scale alpha (non-linear
    heads of ``sweeps``, fixed width; left) and against width at alpha = 1 (the one-hidden-layer
    networks of Fig. 1; right): scaling freezes every kernel by moving the weights less, width freezes
    only the linear output's while the weights move Theta(1)."""
    members = runs[runs["sweep"].isin(sweeps)]
    fig, axes = _subplots(2, 2, figsize=(12, 8.5), sharey="row")  # one scale: scaling against widening
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
    return fig
