"""``AtomicCSVDataset``: kedro-datasets' ``pandas.CSVDataset`` whose local saves are atomic and whose
local loads read only a whole table.

``CSVDataset`` streams ``DataFrame.to_csv`` into the target, so a run killed mid-save leaves a
truncated table that a later run reads silently (a ``runs.csv`` cut after three rows). Here the table
is written atomically, then its SHA-256 beside it (``runs.csv.sha256``, inside the version folder of a
versioned table); a load refuses, by name, a table without a digest or whose bytes do not match it
(cut, edited, or a save interrupted between the two files), and ``exists()`` counts such a table as
missing, so ``kedro run --only-missing-outputs`` rebuilds it from the runs beneath it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
from kedro.io.core import DatasetError, get_filepath_str
from kedro_datasets.pandas import CSVDataset

from ntk_linearity.datasets.atomic import AtomicLocalSave, write_atomically

DIGEST_SUFFIX = ".sha256"


def digest_path(path: Path) -> Path:
    """Where the digest of the table at ``path`` is kept."""
    return path.with_name(path.name + DIGEST_SUFFIX)


def table_problem(path: Path) -> str | None:
    """Why the table at ``path`` cannot be trusted as whole (no digest, or a digest it does not match),
    or ``None``."""
    digest_file = digest_path(path)
    if not digest_file.is_file():
        return f"it has no digest {digest_file.name} (written before digests, or its save was interrupted)"
    expected = digest_file.read_text().strip()
    if hashlib.sha256(path.read_bytes()).hexdigest() != expected:
        return f"its bytes do not match its digest {digest_file.name} (cut or changed after it was written)"
    return None


class TableDigestError(DatasetError):
    """A table that is not as it was written: refused by name instead of read."""


class AtomicCSVDataset(AtomicLocalSave, CSVDataset):
    """``pandas.CSVDataset`` (same arguments, versioning included) that, on the local filesystem,
    writes the whole table to a hidden temporary sibling, flushes it and renames it over the target,
    then writes its digest; a load checks the digest first. Other filesystems behave as ``CSVDataset``."""

    def _serialise(self, data: pd.DataFrame) -> bytes:
        return data.to_csv(path_or_buf=None, **self._save_args).encode()

    def save(self, data: pd.DataFrame) -> None:
        if self._protocol != "file":
            super().save(data)
            return
        path = Path(get_filepath_str(self._get_save_path(), self._protocol))
        payload = self._serialise(data)
        write_atomically(path, lambda handle: handle.write(payload))
        digest = hashlib.sha256(payload).hexdigest().encode() + b"\n"
        write_atomically(digest_path(path), lambda handle: handle.write(digest))
        self._invalidate_cache()

    def _local_path(self) -> Path | None:
        return Path(get_filepath_str(self._get_load_path(), self._protocol)) if self._protocol == "file" else None

    def load(self) -> pd.DataFrame:
        path = self._local_path()
        if path is not None and path.is_file():
            problem = table_problem(path)
            if problem:
                raise TableDigestError(f"refusing to read the table {path}: {problem}; rebuild it from the runs "
                                       "beneath it (kedro run --only-missing-outputs, or the node that writes it)")
        return super().load()

    def _exists(self) -> bool:
        if not super()._exists():
            return False
        path = self._local_path()
        return path is None or table_problem(path) is None
