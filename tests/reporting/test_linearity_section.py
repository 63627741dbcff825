"""Section 3.14 of the report, linearity itself (reporting/linearity.py and its statements and figures), on
the synthetic tables: the plan includes it; its verdicts take three values (an interval across the
threshold cannot tell); a group whose Θ is not derived never shows a number; the numbers asserted come
from the power laws the synthetic tables were generated with or from arithmetic done here; empty grids
read "cannot tell" or "not run", never a finding; the figures build."""

from __future__ import annotations

import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from ntk_linearity.experiment.parameters import validate_parameters  # noqa: E402
from ntk_linearity.experiment.config import default_config_loader  # noqa: E402
from ntk_linearity.numerics.digits import PREPROCESSINGS  # noqa: E402
from ntk_linearity.pipelines.reporting import plan  # noqa: E402
from ntk_linearity.pipelines.reporting.figures import linearity as figures  # noqa: E402
from ntk_linearity.pipelines.reporting.linearity import linearity_sections  # noqa: E402
from ntk_linearity.pipelines.reporting.notation import notation  # noqa: E402
from ntk_linearity.pipelines.reporting.outline import Context, fig1_sweeps  # noqa: E402
from ntk_linearity.pipelines.reporting.statements import linearity as statements  # noqa: E402
from ntk_linearity.pipelines.reporting.verdicts import Transition  # noqa: E402

from kedro_project_utils import TINY  # noqa: E402
from synthetic import _merged, metadata, namespaces, report_inputs, tiny_experiment  # noqa: E402

NUMBER = re.compile(r"\d\.\d|[−+-]\d")  # a decimal or a signed number


def _tables(experiment, **kwargs) -> plan.ReportTables:
    given, table1 = report_inputs(experiment, **kwargs)
    return plan.ReportTables(given["runs"], given["table1_scaling"], given["scaling"], given["curves"], table1,
                             pd.DataFrame(columns=plan.BALL_COLUMNS))


@pytest.fixture(scope="module")
def experiment():
    return tiny_experiment()


@pytest.fixture(scope="module")
def tables(experiment):
    return _tables(experiment)


@pytest.fixture(scope="module")
def sections(experiment, tables):
    return {s.number: s for s in linearity_sections(Context(experiment, tables))}


def _text(section) -> str:
    return "\n".join(section.sentences)


def test_the_plan_includes_the_section_before_the_caveats(experiment, tables):
    report = plan.report_plan(experiment, tables, metadata())
    numbers = [s.number for s in report.sections if s.number]
    assert numbers[numbers.index("3.14"):] == ["3.14", "3.14.1", "3.14.2", "3.14.3", "3.15", "4."]
    assert report.section("3.14").title == "Linearity itself (beyond the paper)"
    assert report.section("3.14.1").figures == ("linearity_figure",)
    assert report.section("3.14.2").figures == ("kernel_limit_figure",)
    assert report.section("3.14.3").figures == ("digits_width_sweep.scaling_figure",)
    assert report.section("3.14.1").sweeps == ("width_sweep", "digits_width_sweep", "lr_sweep")
    assert "[3\\.14\\.2 The kernel against its infinite\\-width limit Θ]" in report.contents()


def test_slopes_and_verdicts_follow_the_generated_power_laws(sections):
    lines = {line.split("**")[1]: line for line in _text(sections["3.14.1"]).splitlines() if line.startswith("- **")}
    # synthetic.py: both measures ~ m^(theory) with theory -1/2 (linear head) and 0 (non-linear heads)
    assert "on the path −0.50 [" in lines["linear output"] and "**Yes**" in lines["linear output"]
    assert "as the theory requires" in lines["linear output"]
    assert "on the path +0.00 [" in lines["softmax output"] and "**No**" in lines["softmax output"]
    assert "**Yes**" not in lines["softmax output"]
    # two widths and one seed: no interval, so no finding either way
    digits = lines["linear output, digits"]
    assert "**cannot tell**" in digits and "neither confirms nor refutes" in digits
    assert "**Yes**" not in digits and "**No**" not in digits


@pytest.mark.parametrize("low, high, expected", [(-0.7, -0.3, Transition.YES), (-0.1, 0.1, Transition.NO),
                                                 (-0.4, 0.1, Transition.CANNOT_TELL),
                                                 (np.nan, np.nan, Transition.CANNOT_TELL)])
def test_a_verdict_takes_three_values_and_a_straddling_interval_cannot_tell(low, high, expected):
    scaling = pd.DataFrame([{"sweep": "s", "group": "g", "architecture": "linear_output",
                             "quantity": "linearisation_error", "fit_against": "width", "slope": (low + high) / 2
                             if math.isfinite(low) else -0.5, "slope_ci_low": low, "slope_ci_high": high,
                             "theory_slope": -0.5, "n_points": 3, "n_seeds": 1}])
    verdict = statements.falls_verdict(scaling, "linearisation_error", "s", "g", "width")
    assert verdict.transition is expected
    if expected is Transition.CANNOT_TELL:
        assert ("straddles" in verdict.reason) == math.isfinite(low)


def test_the_taylor_bound_in_the_errors_units_from_hand_arithmetic():
    # H = 0.2, ||w_T - w_0|| = 1.5, L_0 = 0.5, L_T = 0.02: sqrt(L_0) - sqrt(L_T) = 0.4 sqrt 2, so
    # B = 0.2 * 2.25 / (2 sqrt 2 * 0.4 sqrt 2) = 0.45 / 1.6
    runs = pd.DataFrame({"namespace": ["a", "b", "c", "d"], "hessian_norm_init": [0.2, 0.2, 0.2, 0.2],
                         "hessian_norm_final": [0.1, 0.1, 0.1, 0.1], "path_hessian_sup": [np.nan] * 4,
                         "weight_change_l2": [1.5] * 4, "initial_loss": [0.5, 0.5, 0.5, 0.01],
                         "final_loss": [0.02] * 4, "diverged": [False, False, True, False]})
    losses = pd.Series({"a": "square", "b": "kl", "c": "square", "d": "square"})
    bound = statements.taylor_bound(runs, losses)
    assert bound.iloc[0] == pytest.approx(0.45 / 1.6)
    assert bound.iloc[1:].isna().all()  # another loss, a diverged run, a loss that did not fall
    runs.loc[0, "path_hessian_sup"] = 0.4  # the path's sup is the largest measured
    assert statements.taylor_bound(runs, losses).iloc[0] == pytest.approx(0.9 / 1.6)


def test_the_bound_statement_compares_in_the_same_units(sections):
    text = _text(sections["3.14.1"])
    assert "E ≤ S max_t ‖w_t − w₀‖² / (2√2 (√L₀ − √L_T))" in text
    # synthetic.py: E = 0.1 m^(-1/2) (1 + 0.1 s) and B = m^(-1/2) (1 + 0.1 s)^3 / (2 sqrt 2 (sqrt 0.1 - sqrt 1e-4)),
    # so E / B = r / (1 + 0.1 s)^2: r for the digits' one seed, the median of seeds 0 and 1 for the linear head
    r = 0.1 * 2 * math.sqrt(2) * (math.sqrt(0.1) - 0.01)
    rows = {tuple(line.split(" | ")[:2]): line for line in text.splitlines() if line.startswith("| ")}
    for network, ratio in (("linear output", (r + r / 1.1**2) / 2), ("linear output\\, digits", r)):
        cell = f"{ratio:.3g}".replace(".", "\\.")  # markdown_table escapes the dot
        assert rows[(f"| {network}", "8")].endswith(f" | {cell} |"), network
    assert "lie within the estimate" in text


def test_the_catapult_gap_peaks_at_the_largest_stable_step(sections):
    text = _text(sections["3.14.1"])
    # synthetic.py: gap = 0.05 m^(-1/2) (eta lambda_0)^2 at m = 8
    assert f"{0.05 * 8**-0.5 * 0.25:.3g} at ηλ₀ = 0.5" in text
    assert "largest at ηλ₀ = 2.6" in text and f"{(2.6 / 0.5)**2:.3g} times the largest below ηλ₀ = 2" in text


def test_not_derived_groups_never_show_a_number(experiment):
    tables = _tables(experiment)
    runs = tables.runs.copy()
    not_derived = runs["kernel_limit"] != statements.DERIVED
    runs.loc[not_derived, "kernel_deviation_init"] = 0.123  # a number where none belongs
    text = statements.kernel_limit_statement(runs, tables.scaling, experiment.sweeps, 0.95)
    found, _, missing = text.partition("so they show no deviation:")
    for line in missing.strip().splitlines():
        assert "not derived" in line and not NUMBER.search(line.split(":", 1)[1]), line
    assert "0.123" not in text
    for name in ("CNN, linear output", "softmax output", "standard parameterisation"):
        assert name in missing and name not in found
    assert "**linear output** (`width_sweep`): ‖K(w₀) − Θ‖/‖Θ‖ −0.50 [" in found  # 0.8 m^(-1/2) in synthetic.py


def test_the_digits_sentence_is_read_from_the_parameters():
    overrides = {**TINY, "digits": {"n_samples": 200, "preprocessing": "raw", "seed": 3}}
    experiment = validate_parameters(_merged(default_config_loader()["parameters"], overrides))
    sweep = next(s for s in experiment.sweeps if s.name == "digits_width_sweep")
    text = statements.digits_setup_statement(experiment, sweep)
    assert "200 of scikit-learn's 1,797" in text and "seed 3" in text and "`raw`" in text
    assert f"{len(sweep.runs)} runs" in text
    assert set(statements.PREPROCESSING_TEXT) == set(PREPROCESSINGS)


def test_digits_rows_of_table_1_are_those_of_table1_md(sections, tables):
    rows = [line for line in tables.table1.splitlines() if "(digits_width_sweep; " in line]
    assert rows and all(notation(row) in sections["3.14.3"].sentences[-1] for row in rows)


def test_empty_grids_read_cannot_tell_or_not_run(experiment):
    missing = namespaces(experiment, sweep="width_sweep") + namespaces(experiment, sweep="digits_width_sweep")
    diverged = namespaces(experiment, sweep="lr_sweep")
    empty = {s.number: s for s in linearity_sections(Context(experiment, _tables(
        experiment, diverged=diverged, missing=missing)))}
    text = "\n".join(_text(s) for s in empty.values())
    assert empty["3.14.1"].figures == () and empty["3.14.3"].figures == ()
    assert "`width_sweep`: no usable run (none ran, or every run diverged): cannot tell." in text
    assert "cannot tell" in _text(empty["3.14.1"]).split("**Against the Taylor bound.**")[1]
    assert "`lr_sweep`: no usable linearised gap" in text
    assert "**Yes**" not in _text(empty["3.14.1"]) and "**No**" not in _text(empty["3.14.1"])
    without = experiment.__class__(experiment.parameters, tuple(
        s for s in experiment.sweeps if s.name not in ("width_sweep", "digits_width_sweep")))
    none = {s.number: s for s in linearity_sections(Context(without, _tables(without)))}
    assert "not run in this configuration" in _text(none["3.14.1"]) and "not run" in _text(none["3.14.3"])


def test_the_figures_build_on_the_synthetic_tables(experiment, tables):
    sweeps = (*fig1_sweeps(experiment), *(s for s in experiment.sweeps if s.source != "synthetic"))
    fig = figures.linearity_figure(tables.runs, tables.scaling, sweeps)
    assert len(fig.axes) == 3 * len(sweeps)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any(label.startswith("linear output: -0.50") for label in labels) and "theory slope -0.50" in labels
    plt.close(fig)
    derived = figures.derived_sweeps(tables.runs, experiment.sweeps)
    assert "cnn_channel_sweep" not in {s.name for s in derived} and "width_sweep" in {s.name for s in derived}
    fig = figures.kernel_limit_figure(tables.runs, tables.scaling, derived)
    assert sum(ax.get_visible() for ax in fig.axes) == len(derived)
    plt.close(fig)
