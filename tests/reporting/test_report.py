"""The rendered report through real Kedro sessions on one tiny project (docs/operations.md, "The rendered
report"): papermill, regeneration without retraining, --only-missing-outputs, a failed run keeps the
last good report.

The tests share the module's ``tiny_project`` (one tiny default chain, ~40 s) and each leaves it
complete, so they pass in any order.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
import papermill
import pytest
from kedro.io import Version

from ntk_linearity.datasets import HtmlReportDataset
from ntk_linearity.pipelines.reporting.statements.formatting import slope_phrase

from kedro_project_utils import latest, run_kedro
from synthetic import tiny_experiment

TRAINING_LAYERS = ("01_raw", "06_models", "07_model_output")
# the paper's six and Theorem 5.1's rate; one per other sweep, two per convolutional sweep, two for the
# step-size sweep, one per appendix sweep; Section 3.14: the linearity and kernel-limit figures and one per
# real-data sweep
N_FIGURES = 6 + 1 + 3 + 3 * 2 + 2 + 2 + 2 + 1


def report_versions(project: Path) -> list[Path]:
    folder = project / "data" / "08_reporting" / "report.html"
    return sorted(p for p in folder.glob("*/report.html"))


def file_times(project: Path, layers=TRAINING_LAYERS) -> dict[Path, int]:
    """mtime of every file under ``layers`` of ``data/`` but what ``--only-missing-outputs`` always
    rebuilds from the committed runs: the copies of the runs' summaries
    (``07_model_output/<sweep>/summaries.json``, ``summaries/<group>.json``) and the sweeps' own tables
    and figures (``07_model_output/<sweep>/*``); a run's files are ``07_model_output/<sweep>/<run>/*``."""
    model_output = project / "data" / "07_model_output"

    def rebuilt(path: Path) -> bool:
        if not path.is_relative_to(model_output):
            return False
        parts = path.relative_to(model_output).parts
        return len(parts) != 3 or parts[1] == "summaries"  # noqa: PLR2004 (<sweep>/<run>/<file>)

    return {
        path: path.stat().st_mtime_ns
        for layer in layers
        for path in (project / "data" / layer).rglob("*")
        if path.is_file() and not rebuilt(path)
    }


def test_report_is_one_self_contained_html_page_with_computed_numbers(tiny_project):
    page = latest(tiny_project / "data" / "08_reporting" / "report.html").read_text(encoding="utf-8")
    text = html.unescape(page)
    assert page.startswith("<!DOCTYPE html>")
    # Figures embedded, no code, nothing fetched from the network.
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', page)) == N_FIGURES
    assert "<script" not in page and 'src="http' not in page
    assert "read_csv" not in text and "import " not in text
    # Sections of a short paper, the setup read from the parameters, Table 1 as a table.
    for heading in ("1. The claim", "2. Setup", "3. Results", "Table 1", "4. Run metadata"):
        assert heading in text
    assert "appendix" in text and "not available" in text
    assert "antisymmetric" in text and "−1.28" in text
    assert "width ∈ {8, 32}" in text  # the tiny grid, not conf/base's
    for sweep in ("width_sweep", "bottleneck_sweep", "depth_sweep", "cnn_channel_sweep", "resnet_channel_sweep",
                  "cnn_bottleneck_sweep", "lr_sweep"):  # a section per sweep
        assert f"<code>{sweep}</code>" in page
    assert "Appendix H claim" in text and "smooth random images of 8 × 8 pixels" in text
    assert "channels ∈ {4, 8}" in text
    assert re.search(r"<table>.*linear output.*</table>", page, re.S)  # Table 1's rows by their labels
    # A linked table of contents, every link an id of a heading; at most 2 MB with every figure
    ids = set(re.findall(r'<h[1-4] id="([^"]+)"', page))
    links = re.findall(r'<a href="#([^"]+)">', page)
    assert len(links) >= 20 and all(link in ids or unquote(link) in {unquote(i) for i in ids} for link in links)
    assert len(page.encode("utf-8")) < 2_000_000
    # A number in the text is the one in the persisted scaling table.
    scaling = pd.read_csv(latest(tiny_project / "data" / "08_reporting" / "table1_scaling.csv"))
    assert slope_phrase(scaling, "linear_output", "delta_k", 0.95) in text
    # Run metadata: environment, versions, device, training time.
    assert "<code>tiny</code>" in page
    assert "jax 0." in text and "kedro 1." in text and "cpu" in text.lower()
    runs = pd.read_csv(latest(tiny_project / "data" / "08_reporting" / "runs.csv"))
    assert f"summed over {len(runs)} runs" in text and len(runs) == len(tiny_experiment().runs)
    # The step-size sweep: eta lambda_0 on its axis, its runs named by it, their edges read from runs.csv.
    lr = runs[runs["sweep"] == "lr_sweep"].set_index("namespace")
    assert sorted(lr.index) == ["lr_sweep.el0p5_m8_s0", "lr_sweep.el2p6_m8_s0"]
    assert lr["eta_lambda0"].tolist() == [0.5, 2.6]  # exactly the axis values
    assert (lr["learning_rate"] * lr["lambda0"]).round(5).tolist() == [0.5, 2.6]
    assert lr.loc["lr_sweep.el0p5_m8_s0", "loss_peak_ratio"] == 1.0  # below the limit the loss only falls
    assert "ΔK exceeds 0.1 from ηλ₀ = 2.6 on" in text or "ΔK stays below 0.1" in text
    curves = pd.read_csv(latest(tiny_project / "data" / "08_reporting" / "training_curves.csv"))
    snapshots = curves[curves["namespace"] == "lr_sweep.el2p6_m8_s0"].groupby("curve")["step"].apply(list)
    assert snapshots["lambda_max"] == snapshots["lambda_min"] == snapshots["delta_k"]
    assert lr["lambda_min_path"].gt(0).all() and lr["loss_rate_over_eta_lambda_min"].notna().all()


@pytest.mark.slow  # a second reporting run of the tiny project (~100 s); make test-all
def test_reporting_pipeline_regenerates_the_report_without_retraining(tiny_project):
    before_files = file_times(tiny_project)
    before_reports = report_versions(tiny_project)

    run_kedro(tiny_project, pipeline_names=["reporting"])

    assert file_times(tiny_project) == before_files  # no data, initialisation, training or Hessian output touched
    after_reports = report_versions(tiny_project)
    assert len(after_reports) == len(before_reports) + 1
    assert set(before_reports) < set(after_reports)  # earlier reports are kept
    dataset = HtmlReportDataset(filepath=str(tiny_project / "data/08_reporting/report.html"), version=Version(None, None))
    assert dataset.load() == after_reports[-1].read_text(encoding="utf-8")


@pytest.mark.slow
def test_only_missing_outputs_skips_complete_runs_and_redoes_missing_ones(tiny_project):
    """Committed runs are skipped; the tables, figures and report are rebuilt from them (a new
    version); a run that lost a file is not done, so every file of it is recomputed."""
    before = file_times(tiny_project)
    reports = report_versions(tiny_project)

    run_kedro(tiny_project, only_missing_outputs=True)  # every run is committed
    assert file_times(tiny_project) == before
    assert report_versions(tiny_project)[:-1] == reports

    run = tiny_project / "data/07_model_output/width_sweep/swish_m8_s1"
    missing = run / "hessian_metrics.json"
    missing.unlink()
    run_kedro(tiny_project, only_missing_outputs=True)
    assert missing.is_file()
    after = file_times(tiny_project)
    changed = {path for path in after if after[path] != before.get(path)}
    assert changed == {run / name for name in ("training_history.npz", "training_metrics.json",
                                               "hessian_metrics.json", "run_summary.json")} | {
        tiny_project / "data/06_models/width_sweep/swish_m8_s1" / name
        for name in ("initial_params.npz", "final_params.npz")}


@pytest.mark.slow  # a reporting run of the tiny project (~50 s); make test-all
def test_failed_report_run_keeps_the_last_good_report(tiny_project, monkeypatch):
    before = report_versions(tiny_project)
    good = before[-1].read_text(encoding="utf-8")

    def kernel_died(*args, **kwargs):
        raise RuntimeError("kernel died while executing report.ipynb")

    monkeypatch.setattr(papermill, "execute_notebook", kernel_died)
    with pytest.raises(Exception, match="kernel died"):
        run_kedro(tiny_project, pipeline_names=["reporting"])

    assert report_versions(tiny_project) == before
    leftovers = [p for p in (tiny_project / "data/08_reporting/report.html").rglob("*") if p.is_file()]
    assert sorted(leftovers) == before  # no partial or temporary file
    dataset = HtmlReportDataset(filepath=str(tiny_project / "data/08_reporting/report.html"), version=Version(None, None))
    assert dataset.load() == good
