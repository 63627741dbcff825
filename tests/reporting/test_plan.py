"""The report's plan (reporting/plan.py) without rendering: which sections cover which sweeps, the
method sentences derived from what ran, integers as integers, one notation, vocabulary labels, and a
table of contents whose links are the ids the HTML export gives the headings."""

from __future__ import annotations

import io
import re
from urllib.parse import unquote

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from ntk_linearity.experiment.vocabulary import ARCHITECTURES, BOTTLENECK, LINEAR_HEAD, QUANTITIES, with_role  # noqa: E402
from ntk_linearity.pipelines.reporting import method, plan  # noqa: E402
from ntk_linearity.pipelines.reporting.display import figure_png  # noqa: E402
from ntk_linearity.pipelines.reporting.notation import notation, relabel_table  # noqa: E402
from ntk_linearity.pipelines.reporting.report import markdown_to_html  # noqa: E402

from synthetic import metadata, report_inputs, tiny_experiment  # noqa: E402


@pytest.fixture(scope="module")
def experiment():
    return tiny_experiment()


@pytest.fixture(scope="module")
def tables(experiment):
    given, table1 = report_inputs(experiment)
    return plan.ReportTables(given["runs"], given["table1_scaling"], given["scaling"], given["curves"], table1,
                             pd.DataFrame(columns=plan.BALL_COLUMNS))


@pytest.fixture(scope="module")
def report(experiment, tables):
    return plan.report_plan(experiment, tables, metadata())


def _text(report: plan.ReportPlan) -> str:
    return "\n".join([*report.preamble, *(s for section in report.sections for s in section.sentences),
                      *(b.markdown() for section in report.sections for b in section.blocks
                        if isinstance(b, plan.Table))])


def test_sections_cover_the_sweeps_chosen_from_roles_claims_and_axes(report, experiment):
    assert [s.number for s in report.sections if s.number] == [
        "1.", "2.", "3.", *(f"3.{i}" for i in range(1, 15)), "3.14.1", "3.14.2", "3.14.3", "3.15", "4."]
    assert report.section("3.1").sweeps == ("width_sweep",)
    assert report.section("3.3").sweeps == ("bottleneck_sweep",)
    assert report.section("3.8").sweeps == ("cnn_channel_sweep", "resnet_channel_sweep", "cnn_bottleneck_sweep")
    assert report.section("3.9").sweeps == ("lr_sweep",)
    assert report.section("3.11").sweeps == ("parameterization_sweep",)
    assert report.section("3.12").sweeps == ("output_scale_sweep",)
    assert report.section("3.13").sweeps == ("width_sweep", "bottleneck_sweep", "depth_sweep")
    # every sweep is shown by exactly one of the sections of sweeps, in a subsection of its own or (the
    # appendices' sweeps) in the section's table
    assert report.section("3.14.3").sweeps == ("digits_width_sweep",)  # real data: its own section
    owners = [name for number in ("3.8", "3.9", "3.11", "3.12", "3.13", "3.14.3")
              for name in report.section(number).sweeps]
    assert sorted(owners) == sorted(s.name for s in experiment.sweeps)
    subsections = [s.title for s in report.sections if s.level == 4 and not s.number]
    assert set(subsections) == set(owners) - {"parameterization_sweep", "output_scale_sweep", "digits_width_sweep"}
    # roles, not names: the vocabulary says which architecture is the bottleneck and the linear head
    assert with_role("bottleneck") == (BOTTLENECK,) and ARCHITECTURES[LINEAR_HEAD].role == "linear_head"


def test_figures_are_named_after_the_pipeline_outputs(report):
    assert report.section("3.1").figures == ("fig1_delta_k_vs_width",)
    assert report.section("3.7").figures == ("loss_curves_figure", "width_sweep.convergence_rate")
    lr = next(s for s in report.sections if s.title == "lr_sweep")
    assert lr.figures == ("lr_sweep.catapult_figure", "lr_sweep.catapult_dynamics_figure")
    assert report.section("4.").tables == ("metadata",)


def test_hessian_method_sentence_states_what_each_sweep_ran(experiment, tables):
    sentence = method.hessian_sentence(experiment, tables.runs)
    steps = experiment.parameters.hessian.lanczos_steps
    assert "closed form of Eq. 5 (Eq. 13 for a non-linear head), exact (`width_sweep`" in sentence
    assert re.search(rf"Lanczos on the layer subspace [^;]*at most {steps} steps \([^)]*`bottleneck_sweep`", sentence)
    assert re.search(rf"full Lanczos [^;]*at most {steps} steps \(`cnn_channel_sweep`, `resnet_channel_sweep`",
                     sentence)
    # a run without the column (made before it existed) is said so, not guessed
    older = tables.runs.drop(columns="hessian_method")
    assert method.NOT_RECORDED in method.hessian_sentence(experiment, older)


def test_setup_states_the_grid_step_sizes_and_snapshots_from_the_experiment(report, experiment):
    setup = "\n".join(report.section("2.").sentences)
    n = experiment.parameters.data.n_samples
    assert f"n = {n} inputs" in setup
    assert "`width_sweep` (mlp, 12 runs): head ∈ {linear, swish, softmax}; width ∈ {8, 32}" in setup
    assert "`lr_sweep`" in setup and "η λ₀ set directly" in setup
    snapshots = {run.training.n_snapshots for run in experiment.runs}
    assert all(f"{k} kernel snapshots per run" in setup or f"{k}/" in setup for k in snapshots)
    assert "Lanczos with full re-orthogonalisation (64 steps)" not in setup


def test_integers_print_as_integers_everywhere(report, tables):
    assert tables.runs["width"].dtype == float  # other architectures leave it empty
    assert not re.search(r"(?<![\d.])\d+\.0(?![\d])", _text(report))
    caveats = report.section("3.15").sentences[0]
    assert "2 widths (8, 32)" in caveats


def test_one_notation_and_no_raw_column_names(report):
    text = _text(report)
    for ascii_form in ("Delta K", "||H||", "sqrt", "O~", "Theta(", "K(x,x)"):
        assert ascii_form not in text, ascii_form
    for raw in (*QUANTITIES, "hessian_norm_init", LINEAR_HEAD, "softmax_output"):
        assert not re.search(rf"(?<![\w`]){raw}(?![\w`])", text), raw


def test_notation_and_relabelling():
    assert notation("||H|| = O~(1/sqrt m), Theta(1), Delta K, K(x,x)") == "‖H‖ = Õ(1/√m), Θ(1), ΔK, K(x, x)"
    assert notation("- **linear_output**: Yes") == "- **linear output**: Yes"
    table = "| group | hessian_norm | delta_k |\n|---|---|---|\n| linear_output | -0.5 | hessian_norm |"
    assert relabel_table(table).splitlines() == [
        "| group | ‖H‖ at w₀ | ΔK |", "|---|---|---|", "| linear output | -0.5 | hessian_norm |"]


def test_contents_link_every_heading_by_the_id_of_the_html_export(report):
    contents = report.contents()
    for section in report.sections:
        rendered = markdown_to_html(section.heading)
        ids = re.findall(r'id="([^"]+)"', rendered)
        assert ids and unquote(ids[0].replace("&#x27;", "'")) == unquote(section.anchor), section.text
        assert f"](#{section.anchor})" in contents
    links = re.findall(r'href="#([^"]+)"', markdown_to_html(contents))
    assert len(links) == len(report.sections)


def test_figures_are_palette_pngs_at_the_report_resolution():
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k in range(8):
        ax.loglog([1, 10, 100], [1, 10 ** -k, 100], "o-")
    png = figure_png(fig)
    image = Image.open(io.BytesIO(png))
    assert image.mode == "P" and image.size == (7 * 80, int(4.5 * 80))
