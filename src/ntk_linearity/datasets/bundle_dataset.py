"""``BundleDataset``: several files handed over as one dataset (a dict of values, one per entry).

A sweep hands reporting exactly one dataset, ``<sweep>.results``: its runs table, curves, fits and
figures. Each entry is an ordinary dataset of its own (its type, file path, ``save_args`` and
versioning as a catalog entry would give them), so the files on disk are exactly those the entries
would write on their own, saved atomically by the entries' own datasets. kedro-viz draws the bundle
as one node, which keeps the collapsed lineage to one dataset per sweep.
"""

from __future__ import annotations

import copy
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError, generate_timestamp
from kedro_datasets._typing import TablePreview

OPTIONAL = "optional"  # an entry's key: the bundle is complete without it (a sweep without a ball)


class BundleDataset(AbstractDataset[dict, dict]):
    """A dict of values saved to, and loaded from, one dataset per entry.

    ``entries`` maps each key of the dict to a dataset configuration, as a catalog entry would write
    it (``type``, ``filepath``, ``versioned``, ``save_args``...), plus ``optional: true`` for an entry
    the bundle may lack. A save writes the entries present in the dict (every required one must be);
    the versioned ones share one save version. A load returns every entry that exists on disk (the
    newest version of a versioned one); a missing required entry is an error. The bundle exists when
    every required entry does. ``preview`` names the entry whose table preview kedro-viz shows.

    Example catalog entry::

        "{sweep}.results":
          type: ntk_linearity.datasets.BundleDataset
          preview: runs_table
          entries:
            runs_table: {type: ntk_linearity.datasets.AtomicCSVDataset, filepath: data/{sweep}/runs.csv}
            scaling_figure:
              type: ntk_linearity.datasets.AtomicMatplotlibDataset
              filepath: data/{sweep}/scaling.png
              versioned: true
            ball_table: {type: ntk_linearity.datasets.AtomicCSVDataset, filepath: data/{sweep}/ball.csv,
                         optional: true}
    """

    def __init__(self, *, entries: dict[str, dict[str, Any]], preview: str | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        if preview is not None and preview not in entries:
            raise DatasetError(f"BundleDataset: the preview entry '{preview}' is not one of {sorted(entries)}")
        self._entries = {name: dict(config) for name, config in entries.items()}
        self._required = {name for name, config in entries.items() if not config.get(OPTIONAL, False)}
        self._preview = preview
        self.metadata = metadata

    def _entry(self, name: str, save_version: str | None = None) -> AbstractDataset:
        config = copy.deepcopy(self._entries[name])
        config.pop(OPTIONAL, None)
        return AbstractDataset.from_config(name, config, save_version=save_version)

    def _describe(self) -> dict[str, Any]:
        return {"entries": {name: config.get("filepath") for name, config in self._entries.items()},
                "required": sorted(self._required)}

    def save(self, data: dict[str, Any]) -> None:
        unknown = set(data) - set(self._entries)
        missing = self._required - set(data)
        if unknown or missing:
            raise DatasetError(f"BundleDataset: unknown entries {sorted(unknown)}, missing entries {sorted(missing)}")
        save_version = generate_timestamp()  # one version folder for every versioned entry
        for name, value in data.items():
            self._entry(name, save_version).save(value)

    def load(self) -> dict[str, Any]:
        loaded = {}
        for name in self._entries:
            dataset = self._entry(name)
            if dataset.exists():
                loaded[name] = dataset.load()
            elif name in self._required:
                raise DatasetError(f"BundleDataset: the entry '{name}' ({dataset}) does not exist")
        return loaded

    def _exists(self) -> bool:
        return all(self._entry(name).exists() for name in self._required)

    def preview(self, nrows: int = 20) -> TablePreview:
        """The table preview of the ``preview`` entry (its first ``nrows`` rows), for kedro-viz."""
        if self._preview is None:
            return TablePreview({"columns": [], "index": [], "data": []})
        return self._entry(self._preview).preview(nrows=nrows)
