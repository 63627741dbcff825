"""The report holds no live markup from its inputs (docs/operations.md, "The rendered report"): values
from the data, the configuration or the environment are written into Markdown as text, Markdown shows raw
HTML as text, and the page is sanitised, while tables, headings and embedded figures survive.

Every page is read back with ``html.parser`` (tests/reporting/html_inspection.py), not searched
for strings."""

from __future__ import annotations

import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from ntk_linearity.pipelines.reporting import report, sanitise
from ntk_linearity.pipelines.reporting.markdown import code, escape, markdown_table

from html_inspection import Page, live_markup
from synthetic import namespaces, renamed, report_inputs, tiny_experiment

PNG_1x1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
IMG_ONERROR = "<img src=x onerror=alert(1)>"
EVIL_SCRIPT = '<script src="https://evil.example/x.js"></script>'
NASTY = [
    IMG_ONERROR,
    EVIL_SCRIPT,
    "[click](javascript:alert(1)) ![x](https://evil.example/x.png) <https://evil.example>",
    "https://evil.example/x.js and www.evil.example",
    "a | b | c",
    "*bold* _em_ __init__ `tick` ``two`` ~~gone~~ $x^2$ \\* &amp; &lt;b&gt;",
    "# heading\n- item\n1. first\n> quote",
    "width_sweep.linear_m8_s0",
]


def render(markdown: str) -> Page:
    return Page(report.markdown_to_html(markdown))


@pytest.mark.parametrize("value", NASTY)
def test_an_escaped_value_renders_as_its_own_text_and_nothing_else(value):
    one_line = " ".join(value.split())
    prose = render(f"before {escape(value)} after")
    assert [tag for tag, _ in prose.elements] == ["p"]
    assert prose.text.strip() == f"before {one_line} after"
    span = render(f"before {code(value)} after")
    assert [tag for tag, _ in span.elements] == ["p", "code"]
    assert span.text.strip() == f"before {one_line} after"


def test_a_markdown_table_keeps_its_columns_whatever_its_cells_hold():
    frame = pd.DataFrame({"name": NASTY, "value": range(len(NASTY))})
    page = render(markdown_table(frame))
    assert len(page.tags("tr")) == 1 + len(NASTY) and len(page.tags("td")) == 2 * len(NASTY)
    assert live_markup(report.markdown_to_html(markdown_table(frame))) == []
    assert IMG_ONERROR in page.text and "a | b | c" in page.text


def test_markdown_shows_raw_html_as_text_and_drops_script_links():
    markdown = f"{EVIL_SCRIPT}\n\nsee {IMG_ONERROR} and [here](javascript:alert(1))\n\n| a |\n|---|\n| 1 |"
    html = report.markdown_to_html(markdown)
    page = Page(html)
    assert live_markup(html) == []
    assert EVIL_SCRIPT in page.text and IMG_ONERROR in page.text
    assert [attrs["href"] for attrs in page.tags("a")] == ["#harmful-link"]
    assert len(page.tags("table")) == 1


def _hostile_notebook():
    """Outputs of every kind a notebook can carry, each with something that must not stay live."""
    cell = new_code_cell("plot()")
    cell.outputs = [
        new_output("display_data", data={"image/png": PNG_1x1, "text/plain": "<Figure>"},
                   metadata={"image/png": {"alt": f"title {IMG_ONERROR}"}}),
        new_output("display_data", data={"text/markdown": f"## Results\n\n| a | b |\n|---|---|\n| 1 | {IMG_ONERROR} |"
                                                         f"\n\n{EVIL_SCRIPT}"}),
        new_output("display_data", data={"text/html": (
            f"{EVIL_SCRIPT}<p onclick='alert(1)'>para</p><a href='javascript:alert(1)'>js</a>"
            "<a href='https://evil.example/'>out</a><a href='//evil.example/'>proto</a>"
            "<iframe src='https://evil.example/'></iframe><object data='https://evil.example/x'></object>"
            "<embed src='https://evil.example/x'><link rel='stylesheet' href='https://evil.example/x.css'>"
            "<style>@import url(https://evil.example/x.css);</style><img src='https://evil.example/x.png'>"
            "<img src='data:text/html;base64,PHNjcmlwdD4='><svg onload='alert(1)'><circle r='1'/></svg>"
            "<meta http-equiv='refresh' content='0;url=https://evil.example/'>"), "text/plain": "html"}),
        new_output("display_data", data={"application/javascript": "alert(1)", "text/plain": "js"}),
    ]
    return new_notebook(cells=[new_markdown_cell("# Title"), cell])


def test_the_page_is_sanitised_yet_keeps_headings_tables_and_figures():
    html = report.notebook_to_html(_hostile_notebook())
    page = Page(html)
    assert live_markup(html) == []
    assert {tag for tag, _ in page.elements} <= sanitise.PAGE_TAGS
    images = page.tags("img")
    assert [attrs["src"] for attrs in images if "src" in attrs] == [f"data:image/png;base64,{PNG_1x1}"]
    assert images[0]["alt"] == f"title {IMG_ONERROR}"  # an attribute value, not markup
    assert page.tags("h1") and page.tags("h2") and len(page.tags("td")) == 2
    assert IMG_ONERROR in page.text and EVIL_SCRIPT in page.text  # shown as text
    assert all(attrs["href"].startswith("#") for attrs in page.tags("a") if "href" in attrs)
    assert not [attrs for attrs in page.tags("div") if "jp-RenderedJavaScript" in attrs.get("class", "")]


@pytest.mark.parametrize("head", [
    '<script src="https://evil.example/x.js"></script>',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<style>@import url('https://evil.example/x.css');</style>",
    "<style>body { background: url(https://evil.example/x.png); }</style>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
])
def test_a_page_whose_head_loads_anything_is_refused(head):
    page = f"<!DOCTYPE html><html><head><title>t</title>{head}</head><body><main><p>ok</p></main></body></html>"
    assert sanitise.unsafe_markup(page)
    with pytest.raises(sanitise.UnsafeReportError, match="still holds"):
        sanitise.sanitise_report(page)


def test_a_page_without_main_is_refused():
    with pytest.raises(sanitise.UnsafeReportError, match="no <main>"):
        sanitise.sanitise_report("<html><body><p>x</p></body></html>")


def test_a_report_of_tampered_names_holds_none_of_them_as_markup():
    """The environment named ``<img src=x onerror=alert(1)>``, a sweep (its namespaces, the
    parameters' sweep block, every table) named the same with a script, and a script appended
    to table1.md: the rendered page shows all three as text and runs nothing."""
    evil_sweep = f"depth_{IMG_ONERROR}"
    experiment = renamed(tiny_experiment(), "depth_sweep", evil_sweep)
    tables, table1 = report_inputs(experiment, diverged=namespaces(experiment, sweep=evil_sweep)[:1])
    html = report.report_html(tables, table1 + "\n" + EVIL_SCRIPT + "\n", experiment,
                              report.run_metadata() | {"conf_env": IMG_ONERROR})
    page = Page(html)

    assert live_markup(html) == []
    assert {tag for tag, _ in page.elements} <= sanitise.PAGE_TAGS
    assert f"environment {IMG_ONERROR}," in page.text  # the provenance line
    assert EVIL_SCRIPT in page.text  # the tail of table1.md
    assert f"{evil_sweep}.L1_m8_s0" in page.text  # a diverged namespace, in Table 1's note
    # Provenance, setup, Table 1's rows and reasons, its section, the wall times: all as text.
    assert page.text.count(evil_sweep) >= 6
    figures = [attrs["src"] for attrs in page.tags("img")]
    # the paper's six and Theorem 5.1's rate, one per other sweep, two per convolutional sweep, two for the
    # step-size sweep, one per appendix sweep (parameterisation, output scale); Section 3.14: the linearity and
    # kernel-limit figures and one per real-data sweep
    assert len(figures) == 6 + 1 + 3 + 3 * 2 + 2 + 2 + 2 + 1 and all(src.startswith("data:image/png;base64,") for src in figures)
    assert len(page.tags("table")) >= 3  # Table 1, the sweeps' slopes, the run metadata
