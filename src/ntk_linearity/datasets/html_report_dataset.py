"""``HtmlReportDataset``: the rendered report, versioned, saved atomically, previewed in kedro-viz.

kedro-viz (12.5) passes an ``HTMLPreview`` through Markdown-style regular expressions after sanitising
it (``_a_b_`` becomes italics, ``|`` rows become tables, line starts ``#`` become headings), and no HTML
escaping survives its sanitiser's re-serialisation, so a report full of names such as ``width_sweep``
comes out garbled. The preview is therefore a ``TablePreview`` (plain cells, never re-interpreted): the
report's title, its commit and the rows of its Table 1 with their verdicts.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from kedro_datasets._typing import TablePreview

from ntk_linearity.datasets.atomic_text_dataset import AtomicTextDataset

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_COMMIT = re.compile(r"\bcommit\s+([0-9a-f]{7,40})((?:\s+\(uncommitted changes\))?)")
_TABLE1 = "Table 1"


class _ReportText(HTMLParser):
    """The title, the visible text and the first table under a heading that names Table 1."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.text: list[str] = []
        self.table1: list[list[str]] = []
        self._in: list[str] = []
        self._heading = ""
        self._cell: list[str] | None = None
        self._in_table1 = False

    def handle_starttag(self, tag: str, attrs) -> None:
        self._in.append(tag)
        if tag in _HEADINGS:
            self._heading = ""
        elif tag == "table" and _TABLE1 in self._heading and not self.table1:
            self._in_table1 = True
        elif self._in_table1 and tag == "tr":
            self.table1.append([])
        elif self._in_table1 and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in self._in:
            del self._in[len(self._in) - 1 - self._in[::-1].index(tag):]
        if tag == "table":
            self._in_table1 = False
        elif tag in ("td", "th") and self._cell is not None and self.table1:
            self.table1[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if "script" in self._in or "style" in self._in:
            return
        if "title" in self._in:
            self.title += data
            return
        if any(tag in _HEADINGS for tag in self._in):
            self._heading += data
        if self._cell is not None:
            self._cell.append(data)
        self.text.append(data)


def report_summary(page: str) -> list[tuple[str, str]]:
    """``(item, value)`` rows of a rendered report: its title, its commit, then one row per row of its
    Table 1 (first cell; the other cells as ``header: value``, the verdict last)."""
    parser = _ReportText()
    parser.feed(page)
    parser.close()
    text = " ".join("".join(parser.text).split())
    commit = _COMMIT.search(text)
    rows = [("title", " ".join(parser.title.split()) or "(no title)"),
            ("commit", commit.group(1) + commit.group(2) if commit else "(not recorded in the report)")]
    header, *body = [row for row in parser.table1 if row] or [[]]
    for row in body:
        cells = [f"{name}: {value}" for name, value in zip(header[1:], row[1:])]
        rows.append((f"Table 1 · {row[0]}", "; ".join(cells)))
    if not body:
        rows.append(("Table 1", "(no Table 1 in the report)"))
    return rows


class HtmlReportDataset(AtomicTextDataset):
    """:class:`AtomicTextDataset` (versioned like ``text.TextDataset``) with a table preview.

    The temporary file of an atomic save does not match the versioned layout
    ``<filepath>/<version>/<name>``, so loading the latest version never sees it. Together with
    versioning (a failed run saves nothing; a new run writes a new version folder) the last good
    report always stays in place.

    Example catalog entry::

        report_html:
          type: ntk_linearity.datasets.HtmlReportDataset
          filepath: data/08_reporting/report.html
          versioned: true
    """

    def preview(self) -> TablePreview:
        """The latest report's title, commit and Table 1 verdicts (:func:`report_summary`), for
        kedro-viz's dataset panel, in the ``orient="split"`` layout of kedro-datasets' table previews."""
        rows = report_summary(self.load())
        return TablePreview({"index": list(range(len(rows))), "columns": ["report", "value"],
                             "data": [list(row) for row in rows]})
