"""``AtomicCSVDataset``: kedro-datasets' ``pandas.CSVDataset`` whose local saves are atomic.

``CSVDataset`` streams ``DataFrame.to_csv`` into the target, so a run killed mid-save leaves a
truncated table that a later run reads silently (a ``runs.csv`` cut after three rows).
"""

from __future__ import annotations

import pandas as pd
from kedro_datasets.pandas import CSVDataset

from ntk_linearity.datasets.atomic import AtomicLocalSave


class AtomicCSVDataset(AtomicLocalSave, CSVDataset):
    """``pandas.CSVDataset`` (same arguments, versioning included) that, on the local filesystem,
    writes the whole table to a hidden temporary sibling, flushes it and renames it over the target:
    the file is the previous one or the complete new one. Other filesystems save as ``CSVDataset``."""

    def _serialise(self, data: pd.DataFrame) -> bytes:
        return data.to_csv(path_or_buf=None, **self._save_args).encode()
