"""``HtmlReportDataset``: the rendered report, versioned, saved atomically, previewed in kedro-viz."""

from __future__ import annotations

from kedro_datasets._typing import HTMLPreview

from ntk_linearity.datasets.atomic_text_dataset import AtomicTextDataset


class HtmlReportDataset(AtomicTextDataset):
    """:class:`AtomicTextDataset` (versioned like ``text.TextDataset``) with an HTML preview.

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

    def preview(self) -> HTMLPreview:
        """The latest report, for kedro-viz's dataset panel."""
        return self.load()
