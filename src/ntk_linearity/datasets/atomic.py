"""Atomic local writes shared by the project's datasets.

A file is written to a hidden temporary sibling, flushed to disk and renamed over the target, then the
rename is synced: a crash, a killed job or Ctrl-C leaves the previous file or the complete new one,
never a partial write that ``kedro run --only-missing-outputs`` would count as done. A save that fails
with an exception removes its temporary file; only a process killed outright (``kill -9``, power loss)
can leave one behind, and no load ever reads it (it matches neither a dataset's path nor the versioned
layout ``<filepath>/<version>/<name>``).

The temporary file's name records the process that writes it (``.<name>.<uuid>.<pid>@<host>.tmp``),
so :func:`remove_stale_temporaries` can remove what a killed process left behind without touching
the file another live process is writing.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
import uuid
from pathlib import Path
from typing import Any, BinaryIO, Callable

import psutil
from kedro.io.core import get_filepath_str

logger = logging.getLogger(__name__)
TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{32}(?:\.(?P<pid>\d+)@(?P<host>[^/]+))?\.tmp$")
FOREIGN_TEMPORARY_AGE = 24 * 3600  # seconds: a temporary file of another host is stale after a day


class UnwritablePathError(OSError):
    """A dataset path that cannot be written, with the real cause. Not a ``NotADirectoryError``:
    Kedro's versioned save reports those as "a file with the same name already exists"."""


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create or replace ``path`` with what ``write`` writes to a binary file handle."""
    _make_folder(path)
    # A hidden sibling, so the rename stays on one filesystem; "xb" (exclusive) gives the usual
    # umask-based permissions.
    tmp_path = path.with_name(f".{path.name}.{uuid.uuid4().hex}.{os.getpid()}@{socket.gethostname()}.tmp")
    try:
        with open(tmp_path, "xb") as tmp_file:
            write(tmp_file)
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        os.replace(tmp_path, path)
    except PermissionError as error:
        tmp_path.unlink(missing_ok=True)
        raise UnwritablePathError(f"cannot write {path}: the folder {path.parent} is not writable") from error
    except OSError as error:  # a full disk, a read-only filesystem, a quota: the path and the cause
        tmp_path.unlink(missing_ok=True)
        raise UnwritablePathError(f"cannot write {path}: {error.strerror or error}") from error
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _make_folder(path: Path) -> None:
    """Create the folders of ``path``, naming the real cause when that is impossible."""
    existing = next(folder for folder in (path.parent, *path.parent.parents) if folder.exists())
    if not existing.is_dir():
        raise UnwritablePathError(f"cannot write {path}: {existing} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except PermissionError as error:
        raise UnwritablePathError(f"cannot write {path}: cannot create folders in {existing} "
                              "(not writable)") from error


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


def is_stale_temporary(path: Path, now: float | None = None) -> bool:
    """A temporary file of an atomic save whose writer is gone: a process of this host that no
    longer runs, or (another host, or no writer recorded) a file older than a day."""
    match = TEMPORARY.match(path.name)
    if not match:
        return False
    if match["pid"] and match["host"] == socket.gethostname():
        return not psutil.pid_exists(int(match["pid"]))
    return (now or time.time()) - path.stat().st_mtime > FOREIGN_TEMPORARY_AGE


def remove_stale_temporaries(root: Path) -> list[Path]:
    """Remove the stale temporary files (:func:`is_stale_temporary`) under ``root``; return them."""
    removed = []
    for path in Path(root).rglob(".*.tmp"):
        try:
            if path.is_file() and is_stale_temporary(path):
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # finished (renamed) or removed meanwhile
            continue
    if removed:
        logger.info("removed %d temporary files left by interrupted saves under %s", len(removed), root)
    return removed


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
