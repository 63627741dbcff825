"""``HtmlReportDataset``: the rendered report, versioned, saved atomically, previewed in kedro-viz."""

from __future__ import annotations

from pathlib import Path

from kedro.io.core import get_filepath_str
from kedro_datasets._typing import HTMLPreview
from kedro_datasets.text import TextDataset

from ntk_linearity.datasets.atomic import write_atomically


class HtmlReportDataset(TextDataset):
    """``text.TextDataset`` (versioned like it) whose local saves are atomic, with an HTML preview.

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

    def save(self, data: str) -> None:
        if self._protocol != "file":
            super().save(data)
            return
        target = Path(get_filepath_str(self._get_save_path(), self._protocol))
        encoding = self._fs_open_args_save.get("encoding", "utf-8")
        write_atomically(target, lambda handle: handle.write(data.encode(encoding)))
        self._invalidate_cache()

    def preview(self) -> HTMLPreview:
        """The latest report, for kedro-viz's dataset panel."""
        return self.load()
