"""docs/results.md is generated from the reporting tables (``make results-page``): the pure function on a
small hand-made run, and the reading of a data root's newest versions and its report's metadata."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ntk_linearity.pipelines.reporting.results_page import (
    PageMetadata,
    format_slope,
    main,
    page_from_root,
    report_metadata,
    results_markdown,
    swept_values,
)

META = PageMetadata(commit="0123abc", date="2026-01-02 03:04:05 UTC", environment="local",
                    machine="Test CPU, 2 logical CPUs", backend="cpu (cpu:0)")
COMMIT = "b6bf94070a585b4f6af06b6b6f1cbf0124f40dee"
TABLE1 = "# Table 1: scaling\n\n| network | measured |\n|---|---|\n| linear_output | Yes |\n"
REPORT = (f"<h2>Run metadata</h2><table><tbody><tr>\n<td>rendered</td>\n<td>2026-12-03 11:37:41 UTC</td>\n</tr>"
          "<tr><td>Kedro environment</td><td>local</td></tr>"
          f"<tr><td>git</td><td>{COMMIT}</td></tr>"
          "<tr><td>JAX devices (process that rendered this report)</td><td>cpu:0 (backend cpu)</td></tr>"
          "</tbody></table>")


def _runs() -> pd.DataFrame:
    rows = []
    for head in ("linear", "swish"):
        for width in (10, 100):
            for seed in (0, 1):
                rows.append({"namespace": f"width_sweep.{head}_m{width}_s{seed}", "sweep": "width_sweep",
                             "head": head, "width": float(width), "seed": seed, "converged": True,
                             "diverged": False, "wall_seconds": 1.5,
                             "eta_lambda0": 0.1 * width + seed})  # derived per run: not an axis
    rows.append({"namespace": "lr_sweep.el4p5_m10_s0", "sweep": "lr_sweep", "head": "linear", "width": 10.0,
                 "seed": 0, "converged": False, "diverged": True, "wall_seconds": 0.5, "eta_lambda0": 4.5})
    return pd.DataFrame(rows)


def _scaling() -> pd.DataFrame:
    return pd.DataFrame([
        {"sweep": "width_sweep", "group": "linear", "quantity": "delta_k", "fit_against": "width",
         "slope": -1.049, "slope_ci_low": -1.1, "slope_ci_high": -1.0, "theory_slope": -0.5,
         "n_points": 4, "n_seeds": 2},
        {"sweep": "width_sweep", "group": "swish", "quantity": "loss_peak_ratio", "fit_against": "width",
         "slope": 0.0, "slope_ci_low": math.nan, "slope_ci_high": math.nan, "theory_slope": math.nan,
         "n_points": 2, "n_seeds": 1},
    ])


def test_the_page_names_its_provenance_and_holds_every_table():
    page = results_markdown(_runs(), _scaling(), TABLE1, META)
    assert page.startswith("# Results\n")
    for fact in ("| commit | `0123abc` |", "| date | 2026-01-02 03:04:05 UTC |", "| machine | Test CPU, 2 logical CPUs |",
                 "| JAX backend | cpu (cpu:0) |", "| Kedro environment | `local` |"):
        assert fact in page
    assert "| `width_sweep` | 8 | 8 | 0 | head: linear, swish; width: 10, 100; seed: 0, 1 | 12 |" in page
    assert "| `lr_sweep` | 1 | 0 | 1 | one run | 0 |" in page
    assert "## Table 1: scaling" in page and "| linear_output | Yes |" in page  # headings one level down
    assert "### `width_sweep` (against width)" in page
    assert "| linear | delta_k | -1.05 [-1.10, -1.00] | -0.50 | 4 | 2 |" in page
    assert "| swish | loss_peak_ratio | +0.00 [no interval] | – | 2 | 1 |" in page


def test_the_page_is_a_pure_function_of_its_inputs():
    assert results_markdown(_runs(), _scaling(), TABLE1, META) == results_markdown(_runs(), _scaling(), TABLE1, META)


def test_a_hessian_method_column_gets_its_own_column():
    runs = _runs().assign(hessian_method="closed_form")
    page = results_markdown(runs, _scaling(), TABLE1, META)
    assert "| Hessian method |" in page and "| closed_form |" in page


def test_a_value_derived_per_run_is_not_an_axis():
    assert "eta_lambda0" not in swept_values(_runs().query("sweep == 'width_sweep'"))


def test_slopes_without_an_interval_say_so():
    assert format_slope(-0.5, -0.6, -0.4) == "-0.50 [-0.60, -0.40]"
    assert format_slope(math.nan, math.nan, math.nan) == "n/a"


def _data_root(tmp_path, report: str | None = REPORT):
    reporting = tmp_path / "data" / "08_reporting"
    for version in ("2026-01-01T00.00.00.000Z", "2026-02-01T00.00.00.000Z"):
        for name, write in (("runs.csv", lambda p: _runs().to_csv(p, index=False)),
                            ("scaling.csv", lambda p: _scaling().to_csv(p, index=False)),
                            ("table1.md", lambda p: p.write_text(TABLE1.replace("Yes", version[:7])))):
            (reporting / name / version).mkdir(parents=True)
            write(reporting / name / version / name)
    if report is not None:
        (reporting / "report.html" / "v1").mkdir(parents=True)
        (reporting / "report.html" / "v1" / "report.html").write_text(report)
    return tmp_path / "data"


def test_a_data_root_gives_its_newest_tables_and_its_reports_commit(tmp_path):
    page = page_from_root(_data_root(tmp_path), machine="M")
    assert f"| commit | `{COMMIT}` |" in page and "| date | 2026-12-03 11:37:41 UTC |" in page
    assert "| linear_output | 2026-02 |" in page and "| machine | M |" in page
    assert "| JAX backend | cpu (cpu:0) |" in page


def test_without_a_recorded_commit_the_command_asks_for_one(tmp_path):
    root = _data_root(tmp_path, report=None)
    with pytest.raises(SystemExit, match="--commit"):
        page_from_root(root)
    output = tmp_path / "results.md"
    assert main([str(root), "--commit", "abc1234", "--machine", "M", "-o", str(output)]) == 0
    assert "| commit | `abc1234` |" in output.read_text()


def test_report_metadata_reads_the_run_metadata_table():
    rows = report_metadata(REPORT)
    assert rows["git"] == COMMIT and rows["Kedro environment"] == "local"


def test_a_commit_named_in_the_reports_prose_is_found(tmp_path):
    root = _data_root(tmp_path, report=f"<p>Made in environment local, commit {COMMIT}.</p>")
    assert f"| commit | `{COMMIT}` |" in page_from_root(root, machine="M")
