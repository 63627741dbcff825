"""Pieces of the report node without a Kedro run: the kernel, the HTML export, the atomic dataset,
the run metadata and the prose helpers."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from kedro.io import Version
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from ntk_linearity.datasets import HtmlReportDataset
from ntk_linearity.pipelines.reporting import provenance, report, tables
from ntk_linearity.pipelines.reporting.statements import (
    formatting,
    paper as paper_statements,
    sweeps as sweep_statements,
)

from html_inspection import Page

ROOT = Path(__file__).resolve().parents[2]
PNG_1x1 = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


@pytest.fixture
def foreign_python3_kernel(tmp_path, monkeypatch) -> Path:
    """A kernel spec named ``python3`` for another interpreter, first on the Jupyter path."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "someone else's Python", "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    assert KernelSpecManager().get_kernel_spec("python3").argv[0] == "/nonexistent/python"
    return spec_dir


def test_kernel_is_this_interpreter_whatever_specs_are_installed(foreign_python3_kernel):
    manager = report.CurrentInterpreterKernelManager(kernel_name=report.KERNEL_NAME)
    assert manager.kernel_spec.argv[:3] == [sys.executable, "-m", "ipykernel_launcher"]


def test_papermill_executes_a_template_on_this_interpreter(foreign_python3_kernel, tmp_path):
    template = tmp_path / "template.ipynb"
    parameters = new_code_cell('value = 0\ninputs_dir = "."')
    parameters.metadata["tags"] = ["parameters"]
    nbformat.write(new_notebook(
        cells=[parameters, new_code_cell("import os, sys\nprint(sys.executable, value, os.getcwd())")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    ), template)

    executed = report.execute_report_notebook(tmp_path, {"value": 42}, tmp_path / "out.ipynb", template=template)

    printed = executed.cells[-1].outputs[0]["text"].split()
    assert printed == [sys.executable, "42", str(tmp_path)]


def test_report_template_has_a_parameters_cell_naming_the_node_inputs():
    notebook = nbformat.read(ROOT / report.TEMPLATE, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    names = {line.split("=")[0].strip() for line in tagged[0].source.splitlines() if "=" in line}
    assert names == {"inputs_dir", "params", "metadata"}
    assert notebook.metadata.kernelspec.name == report.KERNEL_NAME
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")  # stored clean


def test_html_hides_code_and_stderr_embeds_images_and_loads_no_scripts():
    cell = new_code_cell("secret_plotting_code()")
    cell.outputs = [
        new_output("display_data", data={"image/png": PNG_1x1, "text/plain": "<Figure>"},
                   metadata={"image/png": {"alt": 'Fig. 1 "left"'}}),
        new_output("stream", name="stderr", text="UserWarning: noisy\n"),
        new_output("display_data", data={"text/markdown": "slope **−0.93**", "text/plain": "md"}),
    ]
    silent = new_code_cell("import numpy as np")
    page = report.notebook_to_html(new_notebook(cells=[new_markdown_cell("# Title"), cell, silent]))
    assert "secret_plotting_code" not in page and "import numpy" not in page
    assert "noisy" not in page
    (image,) = re.findall(r"<img [^>]*>", page)
    assert f'src="data:image/png;base64,{PNG_1x1}"' in image and 'alt=\'Fig. 1 "left"\'' in image
    assert "<strong>−0.93</strong>" in page
    assert "<script" not in page
    assert f"<title>{report.REPORT_TITLE}</title>" in page


def versioned(path: Path, version: str | None = None) -> HtmlReportDataset:
    return HtmlReportDataset(filepath=str(path), version=Version(None, version))


def test_save_is_atomic_and_a_failed_save_keeps_the_previous_report(tmp_path, monkeypatch):
    target = tmp_path / "report.html"
    versioned(target, "2026-01-01T00.00.00.000Z").save("<html>first</html>")
    versioned(target, "2026-01-02T00.00.00.000Z").save("<html>second</html>")
    assert versioned(target).load() == "<html>second</html>"

    def interrupted(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(Exception, match="disk full"):
        versioned(target, "2026-01-03T00.00.00.000Z").save("<html>third</html>")
    monkeypatch.undo()

    assert versioned(target).load() == "<html>second</html>"
    files = sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file())
    assert [str(p.parent) for p in files] == ["2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"]


def test_a_stray_temporary_file_is_not_a_version(tmp_path):
    target = tmp_path / "report.html"
    versioned(target, "2026-01-01T00.00.00.000Z").save("<html>good</html>")
    killed = target / "2026-01-02T00.00.00.000Z"
    killed.mkdir()
    (killed / ".report.html.0123.tmp").write_text("<html>trunc")  # a save killed before its rename
    assert versioned(target).load() == "<html>good</html>"


def test_unversioned_save_replaces_the_file(tmp_path):
    dataset = HtmlReportDataset(filepath=str(tmp_path / "sub" / "report.html"))
    dataset.save("a")
    dataset.save("b")
    assert dataset.load() == "b"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["report.html"]


def test_git_revision_outside_a_repository(tmp_path):
    info = provenance.git_revision(tmp_path)
    assert info["commit"] is None and info["note"]


def test_git_revision_of_the_source_tree():
    if not (ROOT / ".git").exists():
        pytest.skip("the source tree is not a git checkout")
    info = provenance.git_revision(ROOT)
    assert len(info["commit"]) == 40 and isinstance(info["dirty"], bool)


def test_run_metadata_is_json_and_names_versions_and_devices():
    metadata = provenance.run_metadata()
    json.dumps(metadata)
    assert set(provenance.PACKAGES) <= set(metadata["packages"])
    assert metadata["jax"]["devices"] and metadata["conf_env"]


def test_prose_helpers_compute_from_the_tables():
    scaling = pd.DataFrame([{"architecture": "linear_output", "quantity": "delta_k", "slope": -0.934,
                             "slope_ci_low": -0.971, "slope_ci_high": -0.889, "theory_slope": -0.5}])
    assert (formatting.slope_phrase(scaling, "linear_output", "delta_k", 0.95)
            == "fitted slope −0.93, 95% CI [−0.97, −0.89] (theory −0.50)")
    assert formatting.slope_sign(scaling, "linear_output", "delta_k") == "falls"
    assert formatting.slope_phrase(scaling, "swish_output", "delta_k", 0.95).startswith("no fitted slope")
    runs = pd.DataFrame({"architecture": ["linear_output"] * 4, "diverged": [False, False, False, True],
                         "width": [30, 30, 1000, 1000], "bottleneck_width": [np.nan] * 4,
                         "delta_k": [0.2, 0.4, 0.01, 5.0]})
    medians = formatting.medians(runs, "linear_output", "delta_k")
    assert medians.to_dict() == {30: pytest.approx(0.3), 1000: pytest.approx(0.01)}  # diverged run left out
    assert formatting.from_to(medians) == "0.3 at m = 30 to 0.01 at m = 1000"


@pytest.mark.parametrize(("fit", "phrase", "sign"), [
    ((-0.934, -0.971, -0.889), "fitted slope −0.93, 95% CI [−0.97, −0.89] (theory −0.50)", "falls"),
    ((0.2, 0.1, 0.3), "fitted slope +0.20, 95% CI [+0.10, +0.30] (theory −0.50)", "grows"),
    ((-0.2, -0.5, 0.1), "fitted slope −0.20, 95% CI [−0.50, +0.10] (theory −0.50)", "undetermined"),
    ((-0.934, np.nan, np.nan), "fitted slope −0.93 (no interval: too few points) (theory −0.50)", "no interval"),
    ((np.nan, np.nan, np.nan), "no fitted slope (usable runs at a single point of the axis)", "no slope"),
])
def test_a_slope_without_interval_or_fit_is_never_read_as_an_interval(fit, phrase, sign):
    scaling = pd.DataFrame([{"architecture": "linear_output", "quantity": "delta_k", "slope": fit[0],
                             "slope_ci_low": fit[1], "slope_ci_high": fit[2], "theory_slope": -0.5}])
    assert formatting.slope_phrase(scaling, "linear_output", "delta_k", 0.95) == phrase
    assert formatting.slope_sign(scaling, "linear_output", "delta_k") == sign
    assert sign in paper_statements.SIGN_VERDICTS


def _scaling_rows(**slopes):
    """A long scaling table: ``quantity=(slope, low, high)`` for one group of one sweep."""
    return pd.DataFrame([{"sweep": "s", "group": "g", "architecture": "deep_linear_output", "quantity": q,
                          "fit_against": "width", "slope": v[0], "slope_ci_low": v[1], "slope_ci_high": v[2],
                          "theory_slope": -0.5, "n_points": 4, "n_seeds": 3} for q, v in slopes.items()])


def test_narrowest_verdict_flips_at_the_threshold():
    assert tables.narrowest_verdict(0.11, 0.1, "bottleneck_width", 4)[0] == "No"
    assert tables.narrowest_verdict(0.1, 0.1, "bottleneck_width", 4)[0] == "Yes"


def test_linearity_verdict_of_a_sweep_group_reads_its_own_rows():
    runs = pd.DataFrame({"sweep": ["s"] * 2, "group": ["g"] * 2, "architecture": ["deep_linear_output"] * 2,
                         "diverged": [False, False], "delta_k": [0.1, 0.01], "width": [10, 1000], "seed": [0, 0]})
    falling = _scaling_rows(delta_k=(-0.9, -1.0, -0.8), hessian_norm=(-0.5, -0.6, -0.4))
    assert tables.linearity_verdict(falling, runs, 0.1, sweep="s", group="g")[0] == "Yes"
    flat = _scaling_rows(delta_k=(-0.9, -1.0, -0.8), hessian_norm=(-0.3, -0.4, -0.2))
    verdict, reason = tables.linearity_verdict(flat, runs, 0.1, sweep="s", group="g")
    assert verdict == "cannot tell" and reason == "||H|| interval [-0.40, -0.20] straddles -0.25"
    all_diverged = runs.assign(diverged=True)
    verdict, reason = tables.linearity_verdict(falling, all_diverged, 0.1, sweep="s", group="g")
    assert verdict == "cannot tell" and reason.startswith("no usable runs")


def test_sweep_statement_handles_empty_partly_and_fully_diverged_sweeps():
    runs = pd.DataFrame({"sweep": ["s"] * 4, "group": ["g"] * 4, "architecture": ["deep_linear_output"] * 4,
                         "diverged": [False, False, False, True], "delta_k": [0.1, 0.05, 0.01, np.nan],
                         "width": [10, 100, 1000, 1000], "seed": [0, 0, 0, 1]})
    scaling = _scaling_rows(delta_k=(-0.9, -1.0, -0.8), hessian_norm=(-0.5, -0.6, -0.4))
    text = sweep_statements.sweep_statement(runs, scaling, "s", "width", 0.95, 0.1)
    assert "1 of 4 runs diverged" in text and "| g |" in text and text.rstrip().endswith("Yes |")
    cells = [attrs for tag, attrs in Page(report.markdown_to_html(text)).elements if tag == "td"]
    assert len(cells) == 1 + len(sweep_statements.SWEEP_QUANTITIES) + 1  # group, one per quantity, verdict
    assert "−0.90 [−1.00, −0.80] (−0.50)" in Page(report.markdown_to_html(text)).text  # delta_k, from the table
    assert "diverged" in sweep_statements.sweep_statement(runs.assign(diverged=True), scaling, "s", "width", 0.95, 0.1)
    assert "no runs" in sweep_statements.sweep_statement(runs, scaling, "other", "width", 0.95, 0.1)


def test_slope_bound_statement_and_monotonicity():
    assert paper_statements.slope_bound_statement(-0.9, -1.0).startswith("at or below")
    assert paper_statements.slope_bound_statement(-0.4, -0.6).startswith("above −0.50, but its interval includes")
    assert paper_statements.slope_bound_statement(-0.3, -0.4).endswith("flatter than the bound on this grid.")
    assert paper_statements.slope_bound_statement(-0.3, np.nan).endswith(
        "no interval to tell whether it is flatter than the bound.")
    assert paper_statements.is_monotone(pd.Series([1.0, 2.0]), pd.Series([1.0, 2.0]))
    assert not paper_statements.is_monotone(pd.Series([1.0, 2.0]), pd.Series([1.5, 2.0]))


def test_runs_of_another_grid_are_refused_naming_them():
    runs = pd.DataFrame({"namespace": ["s.a", "s.b", "s.old"]})
    tables.check_grid(runs, ("s.b", "s.a", "s.old"))
    with pytest.raises(tables.GridMismatchError, match=r"1 configured runs missing \(s\.c\), 1 runs not configured \(s\.old\)"):
        tables.check_grid(runs, ("s.a", "s.b", "s.c"))


def _conv_tables():
    """Runs and scaling rows of a CNN channel sweep (linear and swish heads) and a channel-bottleneck
    sweep, with slopes chosen so that the linear head decays and the others do not."""
    runs = pd.DataFrame({
        "sweep": ["c"] * 4 + ["b"] * 4, "group": ["linear", "linear", "swish", "swish", "all", "all", "all", "all"],
        "architecture": ["cnn_linear_output"] * 2 + ["cnn_swish_output"] * 2 + ["cnn_bottleneck"] * 4,
        "diverged": [False] * 8, "delta_k": [0.1, 0.001, 0.9, 0.8, 0.3, 0.2, 0.01, 0.02],
        "channels": [4, 128, 4, 128, 64, 64, 64, 64], "bottleneck_channels": [np.nan] * 4 + [2, 2, 32, 32],
        "seed": [0, 0, 0, 0, 0, 1, 0, 1]})
    rows = [("c", "linear", "cnn_linear_output", "channels", {"delta_k": (-1.1, -1.3, -0.9), "hessian_norm": (-0.45, -0.55, -0.35)}),
            ("c", "swish", "cnn_swish_output", "channels", {"delta_k": (-0.1, -0.2, 0.0), "hessian_norm": (-0.05, -0.15, 0.05)}),
            ("b", "all", "cnn_bottleneck", "bottleneck_channels", {"delta_k": (-0.9, -1.2, -0.6), "hessian_norm": (-0.3, -0.4, -0.2)})]
    scaling = pd.DataFrame([{"sweep": s, "group": g, "architecture": a, "quantity": q, "fit_against": f,
                             "slope": v[0], "slope_ci_low": v[1], "slope_ci_high": v[2], "theory_slope": np.nan,
                             "n_points": 2, "n_seeds": 2} for s, g, a, f, slopes in rows for q, v in slopes.items()])
    return runs, scaling


def test_channel_bottleneck_verdict_reads_the_narrowest_bottleneck_channels():
    runs, scaling = _conv_tables()
    verdict, reason = tables.linearity_verdict(scaling, runs, 0.1, sweep="b", group="all")
    assert verdict == "No" and "median Delta K 0.25 at bottleneck_channels = 2" in reason  # median of 0.3, 0.2
    assert tables.linearity_verdict(scaling, runs, 0.3, sweep="b", group="all")[0] == "Yes"


def test_table1_marks_the_convolutional_rows_as_the_papers_appendix_h_claim():
    runs, scaling = _conv_tables()
    depth = pd.DataFrame({"sweep": ["d", "d"], "group": ["L1", "L2"], "architecture": ["deep_linear_output"] * 2,
                          "diverged": [False, False], "delta_k": [0.1, 0.2], "channels": [np.nan] * 2,
                          "bottleneck_channels": [np.nan] * 2, "seed": [0, 0]})
    reporting = type("R", (), {"linearity_threshold": 0.1, "confidence": 0.95, "slope_ci_method": "regression"})
    text = tables.table1_markdown(pd.DataFrame(columns=tables.TABLE1_COLUMNS), scaling,
                                  pd.concat([depth, runs], ignore_index=True), reporting_params=reporting)
    names = [line.split(" | ")[0] for line in text.splitlines() if line.startswith("| ") and "(" in line][1:]  # not the header
    # the claims first; a group named only where the sweep has several of its architecture (depths)
    assert names == ["| CNN, linear output (c; the paper's claim, Theorem 3.1, Appendix H)",
                     "| CNN, swish output (c; the paper's claim, Section 4, Eq. 11, 14)",
                     "| CNN, channel bottleneck (b; the paper's claim, Section 4, Appendix H)",
                     "| deep, linear output, L1 (d; Theorem 3.2, beyond the paper's Section 6)",
                     "| deep, linear output, L2 (d; Theorem 3.2, beyond the paper's Section 6)"]
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| CNN")}
    linear = rows["| CNN, linear output (c; the paper's claim, Theorem 3.1, Appendix H)"]
    assert "| O~(1/sqrt C) |" in linear and linear.endswith("| Yes | Yes |")  # claimed Yes, measured Yes
    swish = rows["| CNN, swish output (c; the paper's claim, Section 4, Eq. 11, 14)"]
    assert swish.endswith("| No | No |")
    bottleneck = rows["| CNN, channel bottleneck (b; the paper's claim, Section 4, Appendix H)"]
    assert bottleneck.endswith("| No | No |")


def test_claim_statement_says_whether_the_measurement_agrees_with_the_claim():
    runs, scaling = _conv_tables()
    text = sweep_statements.claim_statement(runs, scaling, "c", 0.95, 0.1)
    linear, swish = text.splitlines()
    assert linear.startswith("- **CNN, linear output** (Theorem 3.1, Appendix H; claimed: ‖H‖ = O~(1/sqrt C)")
    assert "ΔK −1.10 [−1.30, −0.90]" in linear
    assert linear.endswith("measured transition **Yes**, as claimed.")
    assert swish.endswith("measured transition **No**, as claimed.")
    # a linear head whose Hessian norm provably does not decay (interval wholly above -1/4) contradicts the claim
    flat = scaling.assign(slope_ci_low=np.where(scaling["quantity"] == "hessian_norm", -0.2, scaling["slope_ci_low"]),
                          slope_ci_high=np.where(scaling["quantity"] == "hessian_norm", 0.1, scaling["slope_ci_high"]))
    assert sweep_statements.claim_statement(runs, flat, "c", 0.95, 0.1).splitlines()[0].endswith(
        "measured transition **No**, against the claim.")
    # an interval across -1/4 neither confirms nor refutes: it says so, with the interval
    straddling = scaling.assign(slope_ci_high=np.where(scaling["quantity"] == "hessian_norm", 0.1, scaling["slope_ci_high"]))
    line = Page(report.markdown_to_html(sweep_statements.claim_statement(runs, straddling, "c", 0.95, 0.1))).text
    assert ("measured transition cannot tell (||H|| interval [-0.55, +0.10] straddles -0.25): this grid neither "
            "confirms nor refutes the claim.") in line
    # two channel counts and two seeds: slopes without an interval cannot test the claim either
    no_interval = scaling.assign(slope_ci_low=np.nan, slope_ci_high=np.nan)
    line = Page(report.markdown_to_html(sweep_statements.claim_statement(runs, no_interval, "c", 0.95, 0.1))).text
    assert ("measured transition cannot tell (no interval for Delta K (2 channels values, 2 seeds); no interval for ||H|| "
            "(2 channels values, 2 seeds)): this grid neither confirms nor refutes the claim.") in line
    assert sweep_statements.claims_in({"architectures": ["cnn_linear_output"]})
    assert not sweep_statements.claims_in({"architectures": ["deep_linear_output", "linear_output"]})
