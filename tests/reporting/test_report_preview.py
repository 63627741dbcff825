"""kedro-viz's preview of ``report_html``: plain table cells (title, commit, Table 1 verdicts), so
kedro-viz's Markdown pass over HTML previews cannot turn ``width_sweep`` into italics."""

from __future__ import annotations

from kedro.io import Version
from nbformat.v4 import new_markdown_cell, new_notebook

from ntk_linearity.datasets import HtmlReportDataset
from ntk_linearity.datasets.html_report_dataset import report_summary
from ntk_linearity.pipelines.reporting import report

TABLE1 = """### 3.5 Table 1: paper against measurement

| network | Delta K slope (theory) | transition to linearity? paper | measured |
|---|---|---|---|
| linear_output (width_sweep) | -0.98 [-1.1, -0.9] (-1) | Yes | *Yes* |
| softmax_output | 0.01 [-0.1, 0.1] (0) | No | *No* |
"""


def _page() -> str:
    return report.notebook_to_html(new_notebook(cells=[
        new_markdown_cell("# On the linearity of large non-linear models: a reproduction"),
        new_markdown_cell("Run on commit `0123456789` (uncommitted changes) with bottleneck_sweep and lr_sweep."),
        new_markdown_cell("### 3.4 Hessian norm\n\n| a | b |\n|---|---|\n| not_table_1 | x |"),
        new_markdown_cell(TABLE1),
    ]))


def test_report_preview_is_a_table_of_title_commit_and_table1_verdicts(tmp_path):
    dataset = HtmlReportDataset(filepath=str(tmp_path / "report.html"), version=Version(None, None))
    dataset.save(_page())
    preview = dataset.preview()
    assert preview["columns"] == ["report", "value"]
    rows = dict(map(tuple, preview["data"]))
    assert rows["title"] == report.REPORT_TITLE
    assert rows["commit"] == "0123456789 (uncommitted changes)"
    assert rows["Table 1 · linear_output (width_sweep)"].endswith("paper: Yes; measured: Yes")
    assert rows["Table 1 · softmax_output"] == (
        "Delta K slope (theory): 0.01 [-0.1, 0.1] (0); transition to linearity? paper: No; measured: No")
    assert len(preview["data"]) == len(preview["index"]) == 4
    # plain text everywhere: no markup left for kedro-viz to re-interpret
    assert not any("<" in cell for row in preview["data"] for cell in row)


def test_report_preview_says_what_is_missing():
    rows = dict(report_summary("<html><body><p>nothing here</p></body></html>"))
    assert rows == {"title": "(no title)", "commit": "(not recorded in the report)",
                    "Table 1": "(no Table 1 in the report)"}
