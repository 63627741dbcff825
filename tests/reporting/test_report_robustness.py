"""Every section of the report, and every figure, for sweeps with no runs, with some runs diverged
and with every run diverged (``on_divergence: skip``: NaN metrics, ``diverged=True``, no curves):
a sentence that says so, never an exception or a warning.

The tables are those of the tiny grid with closed-form metrics (tests/reporting/synthetic.py);
which runs diverged is chosen here, so the counts the sentences must give are known beforehand."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from ntk_linearity.pipelines.reporting import report
from ntk_linearity.pipelines.reporting.figures import (
    appendices as appendix_figures,
    paper as paper_figures,
    step_size as step_size_figures,
    sweeps as sweep_figures,
)
from ntk_linearity.pipelines.reporting.statements import (
    paper as paper_statements,
    setup as setup_statements,
    step_size as step_size_statements,
    sweeps as sweep_statements,
)

from html_inspection import Page, live_markup
from synthetic import metadata, namespaces, report_inputs, tiny_experiment

CONFIDENCE, THRESHOLD, WIDTH = 0.95, 0.1, 32


@pytest.fixture(scope="module")
def experiment():
    return tiny_experiment()


def states(experiment) -> dict[str, dict]:
    """empty: no run at all; partly: seed 1 of the width sweep (6 of 12 runs) and the wider
    bottleneck (1 of 2) diverged; fully: every run diverged."""
    every = [run.namespace for run in experiment.runs]
    return {
        "empty": {"missing": every},
        "partly": {"diverged": namespaces(experiment, sweep="width_sweep", seed=1)
                   + ["bottleneck_sweep.mb4_m16_s0"]},
        "fully": {"diverged": every},
    }


@pytest.fixture(scope="module", params=["empty", "partly", "fully"])
def state(request, experiment):
    tables_, table1 = report_inputs(experiment, **states(experiment)[request.param])
    return request.param, tables_, table1


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


FIGURES = {
    "fig1_left": lambda t: paper_figures.delta_k_vs_width(t["runs"], t["table1_scaling"]),
    "fig1_right": lambda t: paper_figures.delta_k_vs_time(t["curves"], WIDTH),
    "fig2": lambda t: paper_figures.delta_k_vs_bottleneck(t["runs"], t["table1_scaling"]),
    "hessian": lambda t: paper_figures.hessian_scaling(t["runs"], t["table1_scaling"]),
    "weight_change": lambda t: paper_figures.weight_change_norms(t["runs"], t["table1_scaling"]),
    "loss_curves": lambda t: paper_figures.loss_curves(t["curves"], WIDTH),
    "catapult": lambda t: step_size_figures.catapult_figure(t["runs"], t["scaling"], sweep="lr_sweep",
                                                            fit_against="width"),
    "catapult_dynamics": lambda t: step_size_figures.catapult_dynamics(t["runs"], t["curves"], sweep="lr_sweep",
                                                                       fit_against="width"),
    "convergence_rate": lambda t: step_size_figures.convergence_rate(t["runs"], sweep="width_sweep",
                                                                     fit_against="width", group_by=["head"]),
    "depth_sweep": lambda t: sweep_figures.sweep_figure(t["runs"][t["runs"]["sweep"] == "depth_sweep"], t["scaling"],
                                                        sweep="depth_sweep", fit_against="width", group_by=["depth"]),
    "parameterization": lambda t: appendix_figures.parameterization_figure(t["runs"], t["scaling"],
                                                                           sweeps=["parameterization_sweep"]),
    "output_scaling": lambda t: appendix_figures.output_scaling_figure(t["runs"], t["scaling"], t["table1_scaling"],
                                                                       sweeps=["output_scale_sweep"]),
}


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_draws_and_an_empty_panel_says_why(state, name):
    case, tables_, _ = state
    fig = FIGURES[name](tables_)
    fig.canvas.draw()
    notes = [text.get_text() for ax in fig.axes for text in ax.texts]
    drawn = [ax for ax in fig.axes if ax.lines or ax.collections]
    plt.close(fig)
    if name == "catapult" and case == "fully":  # the outcome panel marks the diverged runs
        assert [ax.get_title()[:20] for ax in drawn] == ["how each run ended ("]
        assert [line.get_marker() for line in drawn[0].lines] == ["X", "X", "None"]  # two runs, the limit 2
    elif case in ("empty", "fully"):
        assert not drawn and notes and set(notes) == {"no usable runs"}
    else:
        assert drawn


def test_paper_sections_say_what_is_missing(state):
    case, t, table1 = state
    runs, scaling, curves = t["runs"], t["table1_scaling"], t["curves"]
    statements = {
        "3.1": paper_statements.kernel_width_statement(runs, scaling, CONFIDENCE),
        "3.2": paper_statements.kernel_time_statement(runs, curves, WIDTH),
        "3.3": paper_statements.bottleneck_statement(runs, scaling, CONFIDENCE, THRESHOLD),
        "3.4": paper_statements.hessian_statement(runs, scaling, CONFIDENCE),
        "3.6": paper_statements.weight_change_statement(runs, scaling, CONFIDENCE),
        "3.7": paper_statements.convergence_statement(runs, WIDTH, 1e-5, 60),
        "3.9": step_size_statements.step_size_statement(runs, t["scaling"], "lr_sweep", "width", THRESHOLD, 1e12),
        "rate": step_size_statements.rate_statement(runs, "lr_sweep"),
    }
    n = len(runs)  # the tiny grid's runs (7 of them diverge in the `partly` state)
    expected = {
        "empty": {"3.1": "There are no runs of the linear output, softmax output and swish output networks",
                  "3.2": "No one-hidden-layer run has width m = 32",
                  "3.3": "There are no runs of the bottleneck networks",
                  "3.4": "There are no runs of the linear output, softmax output, swish output and bottleneck",
                  "3.6": "There are no runs of the linear output networks",
                  "3.7": "There are no runs in this configuration.",
                  "3.9": "The sweep `lr_sweep` has no runs in this configuration.",
                  "rate": "No run of `lr_sweep` has a fitted loss rate"},
        "fully": {"3.1": "Every run of the linear output, softmax output and swish output networks diverged (12 runs)",
                  "3.2": "Every one-hidden-layer run at m = 32 diverged (6 runs)",
                  "3.3": "Every run of the bottleneck networks diverged (2 runs)",
                  "3.4": "diverged (14 runs)",
                  "3.6": "Every run of the linear output networks diverged (4 runs)",
                  "3.7": f"0 of {n} runs reached the tolerance L ≤ 1e-05 within 60 steps; {n} diverged",
                  "3.9": "Every run of `lr_sweep` diverged (2 runs) or has no positive ΔK",
                  "rate": "No run of `lr_sweep` has a fitted loss rate"},
        "partly": {"3.1": "6 of 12 runs of the linear output, softmax output and swish output networks diverged",
                   "3.2": "3 of 6 runs at this width diverged and have no curve",
                   "3.3": "1 of 2 runs of the bottleneck networks diverged",
                   "3.4": "- **bottleneck** (against m\\_b): ‖H‖ no fitted slope (usable runs at a single point",
                   "3.6": "2 of 4 runs of the linear output networks diverged",
                   "3.7": f"{n - 7} of {n} runs reached the tolerance L ≤ 1e-05 within 60 steps; 7 diverged",
                   "3.9": "the loss rises above L₀ from **ηλ₀ = 2.6** on (the next lower value of the grid, 0.5, does not)",
                   "rate": "rate / (η λ_min) 2 (median; 1 of 1 runs at or above 1"},
    }[case]
    for section, sentence in expected.items():
        assert sentence in statements[section], section
    for statement in statements.values():
        assert live_markup(report.markdown_to_html(statement)) == []


def test_table1_sweeps_caveats_and_metadata_say_what_is_missing(state, experiment):
    case, t, table1 = state
    runs = t["runs"]
    n = len(runs)
    sweeps = {sweep.name: sweep_statements.sweep_statement(runs, t["scaling"], sweep.name, sweep.fit_against,
                                                           CONFIDENCE, THRESHOLD) for sweep in experiment.sweeps}
    notes = paper_statements.caveats(runs, 6)
    wall_times = dict(setup_statements.metadata_table(metadata(), runs).values)["training wall time"]
    if case == "empty":
        assert "There are no runs in this configuration, so there is nothing to compare." in table1
        assert all("has no runs in this configuration" in text for text in sweeps.values())
        assert not any("widths" in note or "diverged" in note for note in notes)
        assert wall_times == "0 s summed over 0 runs"
        assert setup_statements.provenance_statement(metadata(), runs).endswith(": 0 trained networks.")
    elif case == "fully":
        assert f"**{n} of {n} runs diverged**" in table1 and "| n/a (-0.50) |" in table1  # no slope, theory -1/2
        assert "| cannot tell: no usable runs: every run diverged or has no positive Delta K |" in table1
        assert "- **depth_sweep L2**: cannot tell (no usable runs" in table1  # a fully diverged group keeps its row
        assert all("diverged or has no positive ΔK, so nothing can be fitted" in text for text in sweeps.values())
        assert f"{n} of {n} runs diverged: they are in no median, fit, verdict or curve" in " ".join(notes)
        assert not any("stopped at the step limit" in note for note in notes)
    else:
        assert f"**7 of {n} runs diverged**" in table1
        assert "6 of 12 runs diverged and are left out of the fits" in sweeps["width_sweep"]
        # One seed left at each of the two widths: two points, a slope and no interval.
        assert "[no interval]" in Page(report.markdown_to_html(sweeps["width_sweep"])).text
        assert f"7 of {n} runs diverged" in " ".join(notes)
    Page(report.markdown_to_html(table1))  # Table 1 renders


def test_no_diverged_run_is_counted_as_stopped_at_the_step_limit():
    runs = pd.DataFrame({"converged": [True, False, False, False], "diverged": [False, False, True, True]})
    assert paper_statements.run_outcomes(runs) == (1, 1, 2)


@pytest.mark.parametrize("case", [
    # make test renders the whole notebook twice already (the tiny project, the tampered names)
    pytest.param("mixed", marks=pytest.mark.slow),
    pytest.param("empty", marks=pytest.mark.slow),
    pytest.param("fully", marks=pytest.mark.slow),
])
def test_the_notebook_renders_every_state_of_a_sweep(experiment, case):
    """``mixed``: the width sweep partly diverged, the bottleneck sweep fully, the depth sweep empty."""
    given = {"mixed": {"missing": namespaces(experiment, sweep="depth_sweep"),
                       "diverged": namespaces(experiment, sweep="bottleneck_sweep")
                       + namespaces(experiment, sweep="width_sweep", seed=1)},
             **states(experiment)}[case]
    tables_, table1 = report_inputs(experiment, **given)
    html = report.report_html(tables_, table1, report.report_parameters(experiment), metadata())
    page = Page(html)
    assert live_markup(html) == []
    for heading in ("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12",
                    "3.13", "3.14", "3.15", "4. Run metadata"):
        assert heading in page.text
    expected = {
        "mixed": ["6 of 12 runs of the linear output, softmax output and swish output networks diverged",
                  "Every run of the bottleneck networks diverged (2 runs)",
                  "The sweep depth_sweep has no runs in this configuration."],
        "empty": ["There are no runs of the linear output, softmax output and swish output networks",
                  "There are no runs in this configuration, so there is nothing to compare."],
        "fully": ["Every run of the linear output, softmax output and swish output networks diverged (12 runs)",
                  "Every run of depth_sweep diverged or has no positive ΔK"],
    }[case]
    for sentence in expected:
        assert sentence in page.text
    # the paper's six but Fig. 2, and Theorem 5.1's rate; the width sweep's; two for each convolutional
    # sweep; two for the step-size sweep, whose outcome panel also shows a fully diverged sweep; one for
    # each of the parameterisation and the output-scaling sweeps; Section 3.14's linearity and kernel-limit
    # figures and the digits sweep's
    n_figures = {"mixed": 5 + 1 + 1 + 3 * 2 + 2 + 2 + 3, "empty": 0, "fully": 1}[case]
    assert len(page.tags("img")) == n_figures
