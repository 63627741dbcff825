"""Section 3.14 of the report, linearity itself (beyond the paper): the network against its linearisation
(Section 1, Eq. 2-3; Proposition 2.1), the tangent kernel at w_0 against its infinite-width limit Θ, and the
same networks on real data (scikit-learn's digits).

:func:`linearity_sections` is a pure function of the :class:`~.outline.Context` (the experiment and the
persisted tables) like the other sections of :func:`~.plan.report_plan`, which includes it; its sweeps are
chosen from the vocabulary's roles (the Fig. 1 heads), the sweeps' axes (``eta_lambda0``) and data sources,
never by name. The statements are in :mod:`.statements.linearity`, the figures in :mod:`.figures.linearity`.
"""

from __future__ import annotations

from ntk_linearity.experiment.sweeps import ETA_LAMBDA0, SweepSpec
from ntk_linearity.experiment.vocabulary import LINEARISATION_QUANTITIES, QUANTITIES
from ntk_linearity.pipelines.reporting import prose
from ntk_linearity.pipelines.reporting.figures import linearity as figures
from ntk_linearity.pipelines.reporting.figures import sweeps as sweep_figures
from ntk_linearity.pipelines.reporting.outline import (
    Block, Context, Figure, Section, axis_sweeps, fig1_sweeps, names, real_data_sweeps, section,
)
from ntk_linearity.pipelines.reporting.statements import linearity as statements, sweeps as sweep_statements
from ntk_linearity.pipelines.reporting.tables import usable

NUMBER = "3.14"


def _drawable(c: Context, sweeps: tuple[SweepSpec, ...], column: str) -> tuple[SweepSpec, ...]:
    """The sweeps of ``sweeps`` with a usable ``column`` (a figure's rows or panels)."""
    return tuple(s for s in sweeps if not usable(c.members(s.name), column).empty)


def _linearisation(c: Context, width_sweeps: tuple[SweepSpec, ...]) -> Section:
    """3.14.1: both measures against width per head beside ΔK, their slopes and verdicts against the
    Taylor bound, the bound itself from runs.csv, and the gap along the step-size sweeps."""
    runs, scaling = c.t.runs, c.t.scaling
    shown = _drawable(c, width_sweeps, QUANTITIES[LINEARISATION_QUANTITIES[0]].column)
    steps = axis_sweeps(c.experiment, ETA_LAMBDA0)
    catapult = [statements.catapult_gap_statement(runs, s, ETA_LAMBDA0) for s in steps] or [
        f"No sweep of this configuration has an {ETA_LAMBDA0} axis: not run in this configuration."]
    return section(f"{NUMBER}.1", "The network against its linearisation", 4, names((*width_sweeps, *steps)), [
        Figure("linearity_figure", lambda: figures.linearity_figure(runs, scaling, shown)) if shown else None,
        statements.linearisation_statement(runs, scaling, width_sweeps, c.conf),
        "**Against the Taylor bound.** " + statements.bound_statement(c.experiment, runs, width_sweeps),
        "**Where the catapult leaves the linearised model.** " + "\n\n".join(catapult),
    ])


def _kernel_limit(c: Context) -> Section:
    """3.14.2: ‖K(w₀) − Θ‖_F / ‖Θ‖_F against width with its fit, interval and verdict (theory −1/2); "not
    derived" with the reason, never a number, where Θ is not derived."""
    runs, scaling = c.t.runs, c.t.scaling
    shown = figures.derived_sweeps(runs, c.experiment.sweeps)
    return section(f"{NUMBER}.2", "The kernel against its infinite-width limit Θ", 4, names(shown), [
        Figure("kernel_limit_figure", lambda: figures.kernel_limit_figure(runs, scaling, shown)) if shown else None,
        statements.kernel_limit_statement(runs, scaling, c.experiment.sweeps, c.conf),
    ])


def _real_data(c: Context) -> Section:
    """3.14.3: what each real-data sweep ran, its figure and table of slopes, and its rows of Table 1."""
    chosen = real_data_sweeps(c.experiment)
    blocks: list[Block] = [] if chosen else ["No sweep of this configuration trains on real data: "
                                             "not run in this configuration."]
    for sweep in chosen:
        members = c.members(sweep.name)
        kw = {"sweep": sweep.name, "fit_against": sweep.fit_against, "group_by": sweep.group_by}
        rows = statements.table1_rows(c.t.table1, sweep.name)
        blocks += [
            statements.digits_setup_statement(c.experiment, sweep),
            Figure(f"{sweep.name}.scaling_figure", lambda m=members, k=kw: sweep_figures.sweep_figure(
                m, c.t.scaling, **k)) if not usable(members, "delta_k").empty else None,
            sweep_statements.sweep_statement(c.t.runs, c.t.scaling, sweep.name, sweep.fit_against, c.conf,
                                             c.threshold),
            f"Its rows of Table 1 (Section 3.5):\n\n{rows}" if rows else None,
        ]
    return section(f"{NUMBER}.3", "Real data: scikit-learn's digits", 4, names(chosen), blocks)


def linearity_sections(c: Context) -> list[Section]:
    """Section 3.14 and its three subsections (:mod:`module docstring <.linearity>`)."""
    width_sweeps = (*fig1_sweeps(c.experiment), *real_data_sweeps(c.experiment))
    return [
        section(NUMBER, "Linearity itself (beyond the paper)", sweeps=names(width_sweeps), blocks=[prose.LINEARITY]),
        _linearisation(c, width_sweeps), _kernel_limit(c), _real_data(c),
    ]
