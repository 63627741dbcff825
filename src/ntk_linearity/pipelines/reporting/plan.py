"""The report's plan: which sections, which sweeps in each, every sentence, table and figure.

:func:`report_plan` is a pure function of the validated :class:`~ntk_linearity.experiment.parameters.Experiment`
and the persisted tables (:class:`ReportTables`); ``notebooks/report.ipynb`` only displays what it
returns (a heading, then each block: Markdown, a table, a figure). Sections are chosen from the
experiment (a sweep's architectures, their roles and claims in the vocabulary, its axes, its ball
runs), never by testing names; every Markdown block is written in the report's notation
(:func:`.notation.notation`). The table of contents links every heading by the anchor the HTML export
gives it (:func:`.outline.anchor`). The blocks, the sweeps of each section and the context every section
is made from are in :mod:`.outline`; Section 3.14 (linearity itself) in :mod:`.linearity`.
"""

from __future__ import annotations

from ntk_linearity.experiment.parameters import Experiment
from ntk_linearity.experiment.sweeps import ETA_LAMBDA0, SweepSpec
from ntk_linearity.experiment.vocabulary import BOTTLENECK, FIG1_ARCHITECTURES
from ntk_linearity.pipelines.reporting import prose
from ntk_linearity.pipelines.reporting.figures import appendices as appendix_figures, ball as ball_figures
from ntk_linearity.pipelines.reporting.figures import paper as paper_figures, step_size as step_size_figures
from ntk_linearity.pipelines.reporting.figures import sweeps as sweep_figures
from ntk_linearity.pipelines.reporting.linearity import linearity_sections
from ntk_linearity.pipelines.reporting.markdown import code
from ntk_linearity.pipelines.reporting.method import setup_text
from ntk_linearity.pipelines.reporting.outline import (  # noqa: F401 (load_tables: the notebook's)
    Block, Context, Figure, ReportPlan, ReportTables, Section, Table, axis_sweeps, claim_sweeps, fig1_sweeps,
    load_tables, names, other_sweeps, role_sweeps, section,
)
from ntk_linearity.pipelines.reporting.statements import appendices, paper, setup, step_size, sweeps
from ntk_linearity.pipelines.reporting.tables import usable
from ntk_linearity.pipelines.schema import BALL_COLUMNS  # noqa: F401 (the tests' empty ball table)

TITLE = "On the linearity of large non-linear models: a reproduction"


def _paper_sections(c: Context) -> list[Section]:
    """3.1 to 3.7: the paper's own networks (Fig. 1, Fig. 2, Table 1, E5, E6)."""
    runs, t, fig1 = c.t.runs, c.t, names(fig1_sweeps(c.experiment))
    bottleneck = names(role_sweeps(c.experiment, (BOTTLENECK,)))
    hessian = (*FIG1_ARCHITECTURES, BOTTLENECK)
    draw = c.drawable
    rate = []
    for sweep in fig1_sweeps(c.experiment):
        if not usable(c.members(sweep.name), "loss_rate").empty:
            rate.append(Figure(f"{sweep.name}.convergence_rate", lambda s=sweep: step_size_figures.convergence_rate(
                runs, sweep=s.name, fit_against=s.fit_against, group_by=s.group_by)))
        rate.append(f"**Theorem 5.1's rate ({code(sweep.name)}).** " + step_size.rate_statement(runs, sweep.name))
    return [
        section("3.1", "The kernel freezes with width only for a linear output layer (Fig. 1 left, E1)", sweeps=fig1,
                 blocks=[Figure("fig1_delta_k_vs_width", lambda: paper_figures.delta_k_vs_width(runs, t.table1_scaling))
                         if draw(FIG1_ARCHITECTURES, "delta_k") else None,
                         paper.kernel_width_statement(runs, t.table1_scaling, c.conf)]),
        section("3.2", "Kernel change along training (Fig. 1 right, E2)", sweeps=fig1,
                 blocks=[Figure("fig1_delta_k_vs_time", lambda: paper_figures.delta_k_vs_time(t.curves, c.curve_width))
                         if not paper.final_curve_values(t.curves, "delta_k", c.curve_width).empty else None,
                         paper.kernel_time_statement(runs, t.curves, c.curve_width)]),
        section("3.3", "A narrow bottleneck breaks linearity (Fig. 2, E3)", sweeps=bottleneck,
                 blocks=[Figure("fig2_delta_k_vs_bottleneck",
                                lambda: paper_figures.delta_k_vs_bottleneck(runs, t.table1_scaling))
                         if draw((BOTTLENECK,), "delta_k") else None,
                         paper.bottleneck_statement(runs, t.table1_scaling, c.conf, c.threshold)]),
        section("3.4", "Hessian norm and gradient scaling (Table 1, E4)", sweeps=(*fig1, *bottleneck),
                 blocks=[Figure("hessian_scaling_figure", lambda: paper_figures.hessian_scaling(runs, t.table1_scaling))
                         if draw(hessian, "hessian_norm_init") else None,
                         paper.hessian_statement(runs, t.table1_scaling, c.conf)]),
        section("3.5", "Table 1: paper against measurement", sweeps=names(c.experiment.sweeps),
                 blocks=[prose.TABLE1, _table1_body(t.table1)]),
        section("3.6", "Not lazy training: the weights move Θ(1) in Euclidean norm (E5)", sweeps=fig1,
                 blocks=[Figure("weight_change_figure", lambda: paper_figures.weight_change_norms(runs, t.table1_scaling))
                         if draw(FIG1_ARCHITECTURES, "weight_change_l2") else None,
                         paper.weight_change_statement(runs, t.table1_scaling, c.conf)]),
        section("3.7", "Gradient descent converges although the kernel moves (E6)", sweeps=fig1,
                 blocks=[Figure("loss_curves_figure", lambda: paper_figures.loss_curves(t.curves, c.curve_width))
                         if not paper.final_curve_values(t.curves, "loss", c.curve_width).empty else None,
                         _convergence(c), *rate]),
    ]


def _convergence(c: Context) -> str:
    training = c.experiment.parameters.training
    return paper.convergence_statement(c.t.runs, c.curve_width, training.tol, training.max_steps)


def _table1_body(table1: str) -> str:
    """``table1.md`` without its own title (the section has one)."""
    lines = table1.strip().splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("#") else lines).strip()


def _sweep_blocks(c: Context, sweep: SweepSpec, curves: bool = False) -> list[Block]:
    """A sweep's figure of every quantity against its fit axis (and its training curves)."""
    runs, t = c.t.runs, c.t
    if usable(c.members(sweep.name), "delta_k").empty:
        return []
    kw = {"sweep": sweep.name, "fit_against": sweep.fit_against, "group_by": sweep.group_by}
    blocks: list[Block] = [Figure(f"{sweep.name}.scaling_figure",
                                  lambda: sweep_figures.sweep_figure(c.members(sweep.name), t.scaling, **kw))]
    if curves:
        blocks.append(Figure(f"{sweep.name}.training_curves_figure",
                             lambda: sweep_figures.sweep_curves(runs, t.curves, **kw)))
    return blocks


def _sweep_table(c: Context, sweep: SweepSpec) -> str:
    return sweeps.sweep_statement(c.t.runs, c.t.scaling, sweep.name, sweep.fit_against, c.conf, c.threshold)


def _claim_sections(c: Context) -> list[Section]:
    """3.8: one subsection per sweep of a claimed architecture (Appendix H)."""
    claimed = claim_sweeps(c.experiment)
    out = [section("3.8", "Convolutional and residual networks: the paper's Appendix H claim", sweeps=names(claimed),
                    blocks=[prose.CLAIMS_H, None if claimed else
                            "No sweep of this configuration trains a convolutional or residual network."])]
    for sweep in claimed:
        statement = (sweeps.claim_statement(c.t.runs, c.t.scaling, sweep.name, c.conf, c.threshold)
                     + "\n\n" + _sweep_table(c, sweep))
        out.append(section("", sweep.name, 4, (sweep.name,), [*_sweep_blocks(c, sweep, curves=True), statement]))
    return out


def _step_size_sections(c: Context) -> list[Section]:
    """3.9: one subsection per sweep with an ``eta_lambda0`` axis (the catapult)."""
    chosen = axis_sweeps(c.experiment, ETA_LAMBDA0)
    runs, t = c.t.runs, c.t
    out = [section("3.9", "The step size across the stability limit: the catapult (beyond the paper)",
                    sweeps=names(chosen), blocks=[prose.CATAPULT, None if chosen else
                                                   "No sweep of this configuration has an `eta_lambda0` axis."])]
    for sweep in chosen:
        members = c.members(sweep.name)
        factor = sweep.runs[0].training.divergence_factor
        blocks: list[Block] = []
        if not members.empty:
            blocks.append(Figure(f"{sweep.name}.catapult_figure", lambda s=sweep: step_size_figures.catapult_figure(
                runs, t.scaling, sweep=s.name, fit_against=s.fit_against)))
        if not usable(members, "delta_k").empty:
            blocks.append(Figure(f"{sweep.name}.catapult_dynamics_figure",
                                 lambda s=sweep: step_size_figures.catapult_dynamics(
                                     runs, t.curves, sweep=s.name, fit_against=s.fit_against)))
        blocks.append(step_size.step_size_statement(runs, t.scaling, sweep.name, sweep.fit_against, c.threshold,
                                                    float(factor))
                      + "\n\n**Theorem 5.1's rate along these paths.** " + step_size.rate_statement(runs, sweep.name))
        out.append(section("", sweep.name, 4, (sweep.name,), blocks))
    return out


def _appendix_sections(c: Context) -> list[Section]:
    """3.10 to 3.12: the ball of Proposition 2.2, the parameterisation, the output scale."""
    runs, t = c.t.runs, c.t
    balls = tuple(s.name for s in c.experiment.sweeps if s.ball_runs)
    params = names(axis_sweeps(c.experiment, "parameterization"))
    scales = names(axis_sweeps(c.experiment, "output_scale"))
    by_name = {s.name: s for s in c.experiment.sweeps}
    ball = [] if t.ball.empty else [Figure("ball_hessian_figure", lambda: ball_figures.ball_hessian(t.ball, t.scaling)),
                                    Figure("ball_bound_figure", lambda: ball_figures.ball_bound(t.ball))]
    return [
        section("3.10", "The ball of Proposition 2.2 and the path", sweeps=balls,
                 blocks=[prose.BALL, *ball, sweeps.ball_statement(t.ball, t.scaling, runs, c.conf)]),
        section("3.11", "Parameterisation: NTK against standard (the paper's Appendix B)", sweeps=params,
                 blocks=[prose.PARAMETERIZATION,
                         Figure("parameterization_figure",
                                lambda: appendix_figures.parameterization_figure(runs, t.scaling, sweeps=params))
                         if not usable(runs[runs["sweep"].isin(params)], "delta_k").empty else None,
                         appendices.parameterization_statement(runs, t.scaling, params, c.conf),
                         *(_sweep_table(c, by_name[name]) for name in params)]),
        section("3.12", "Output scaling is not the explanation (the paper's Appendix A and Section 4)", sweeps=scales,
                 blocks=[prose.OUTPUT_SCALING,
                         Figure("output_scaling_figure", lambda: appendix_figures.output_scaling_figure(
                             runs, t.scaling, t.table1_scaling, sweeps=scales))
                         if not usable(runs[runs["sweep"].isin(scales)], "delta_k").empty else None,
                         appendices.output_scaling_statement(runs, t.scaling, t.table1_scaling, scales, c.conf),
                         *(_sweep_table(c, by_name[name]) for name in scales)]),
    ]


def _other_sections(c: Context) -> list[Section]:
    """3.13: every other sweep, with its figure and table of slopes."""
    rest = other_sweeps(c.experiment)
    out = [section("3.13", "Every other sweep, fitted against its own axis", sweeps=names(rest),
                    blocks=[prose.OTHER_SWEEPS])]
    out += [section("", s.name, 4, (s.name,), [*_sweep_blocks(c, s), _sweep_table(c, s)]) for s in rest]
    return out


def report_plan(experiment: Experiment, tables: ReportTables, metadata: dict | None = None) -> ReportPlan:
    """The whole report for ``experiment`` on ``tables`` (``metadata``: the run's, for the provenance
    line and Section 4)."""
    metadata = metadata or {}
    c = Context(experiment, tables)
    runs = tables.runs
    n_snapshots = experiment.parameters.training.n_snapshots
    wall = (setup.metadata_table(metadata, runs) if metadata else None)
    sections = [
        section("1.", "The claim", 2, blocks=[prose.CLAIM]),
        section("2.", "Setup", 2, names(experiment.sweeps), [prose.SETUP, setup_text(experiment, runs)]),
        section("3.", "Results", 2),
        *_paper_sections(c), *_claim_sections(c), *_step_size_sections(c), *_appendix_sections(c),
        *_other_sections(c), *linearity_sections(c),
        section("3.15", "Caveats", blocks=["\n".join(f"- {note}" for note in paper.caveats(runs, n_snapshots))]),
        section("4.", "Run metadata", 2, blocks=[
            Table("metadata", wall) if wall is not None else None,
            "Wall times are measured inside each run's `train_network` node (gradient descent, kernel snapshots "
            "and the noise-floor estimate) and `analyse_hessian` node (‖H‖ at w₀ and w_T by the run's method of "
            "Section 2, and K(x, x)) and summed here; data generation, initialisation and reporting take seconds "
            "and are not timed. Training may have run in an earlier `kedro run` than the one that rendered this "
            "report, possibly on other devices."]),
    ]
    preamble = (prose.SUBTITLE, setup.provenance_statement(metadata, runs) if metadata else "")
    return ReportPlan(TITLE, tuple(p for p in preamble if p), tuple(sections))
