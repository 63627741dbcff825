"""``AtomicTextDataset``: kedro-datasets' ``text.TextDataset`` whose local saves are atomic."""

from __future__ import annotations

from kedro_datasets.text import TextDataset

from ntk_linearity.datasets.atomic import AtomicLocalSave


class AtomicTextDataset(AtomicLocalSave, TextDataset):
    """``text.TextDataset`` (same arguments, versioning included) that, on the local filesystem,
    writes the whole text to a hidden temporary sibling, flushes it and renames it over the target:
    the file is the previous one or the complete new one. The text is encoded with the
    ``encoding`` of ``fs_args.open_args_save`` (UTF-8 by default).

    Example catalog entry::

        table1_markdown:
          type: ntk_linearity.datasets.AtomicTextDataset
          filepath: data/08_reporting/table1.md
          versioned: true
    """

    def _serialise(self, data: str) -> bytes:
        return data.encode(self._fs_open_args_save.get("encoding", "utf-8"))
