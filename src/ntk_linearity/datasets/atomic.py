"""Atomic local writes shared by the project's datasets.

A file is written to a hidden temporary sibling, flushed to disk and renamed over the target, then the
rename is synced: a crash, a killed job or Ctrl-C leaves the previous file or the complete new one,
never a partial write that ``kedro run --only-missing-outputs`` would count as done. A save that fails
with an exception removes its temporary file; only a process killed outright (``kill -9``, power loss)
can leave one behind. Its name (``.<name>.<hex>.tmp``) never matches a dataset's path, nor the
versioned layout ``<filepath>/<version>/<name>``, so no load ever reads it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, BinaryIO, Callable

from kedro.io.core import get_filepath_str


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create or replace ``path`` with what ``write`` writes to a binary file handle."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A hidden sibling, so the rename stays on one filesystem; "xb" (exclusive) gives the usual
    # umask-based permissions.
    tmp_path = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp_path, "xb") as tmp_file:
            write(tmp_file)
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Persist a rename on POSIX by syncing its directory (no-op elsewhere)."""
    if os.name != "posix":
        return
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


class AtomicLocalSave:
    """Mixin for a kedro-datasets file dataset (one with ``_protocol``, ``_get_save_path`` and
    ``_invalidate_cache``): on the local filesystem ``save`` serialises the whole value with
    :meth:`_serialise` first, then writes it with :func:`write_atomically` (versioned paths
    included); other filesystems save as the dataset itself does.

    Put it first among the bases: ``class AtomicCSVDataset(AtomicLocalSave, CSVDataset)``.
    """

    def _serialise(self, data: Any) -> bytes:
        """The file's complete content."""
        raise NotImplementedError

    def save(self, data: Any) -> None:
        if self._protocol != "file":
            super().save(data)
            return
        path = Path(get_filepath_str(self._get_save_path(), self._protocol))
        payload = self._serialise(data)
        write_atomically(path, lambda handle: handle.write(payload))
        self._invalidate_cache()
