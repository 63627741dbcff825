"""Atomic saves: what a killed writer leaves behind is removed at the next run, and a path that
cannot be written is named with the real cause (ntk_linearity.datasets.atomic)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kedro.io import DatasetError
from kedro.io.core import Version

from ntk_linearity.datasets import AtomicJSONDataset
from ntk_linearity.datasets.atomic import (
    UnwritablePathError,
    is_stale_temporary,
    remove_stale_temporaries,
    write_atomically,
)

KILLED_MID_WRITE = """
import os, signal, sys
from pathlib import Path
from ntk_linearity.datasets.atomic import write_atomically

def write(handle):
    handle.write(b'{"partial": ')
    handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)

write_atomically(Path(sys.argv[1]), write)
"""


def _temporary(folder: Path, pid: int, host: str) -> Path:
    path = folder / f".metrics.json.{'0' * 32}.{pid}@{host}.tmp"
    path.write_text("{")
    return path


def test_kill_9_mid_write_keeps_the_previous_file_and_the_next_run_removes_the_leftover(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text('{"steps": 60}')
    result = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(target)], check=False)
    assert result.returncode == -signal.SIGKILL
    assert target.read_text() == '{"steps": 60}'
    leftovers = [p for p in tmp_path.iterdir() if p != target]
    assert len(leftovers) == 1 and leftovers[0].name.endswith(".tmp")
    assert remove_stale_temporaries(tmp_path) == leftovers
    assert list(tmp_path.iterdir()) == [target]


def test_only_temporaries_whose_writer_is_gone_are_stale(tmp_path):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    host = socket.gethostname()
    dead = _temporary(tmp_path, finished.pid, host)
    alive = _temporary(tmp_path, os.getpid(), host)
    old_foreign = _temporary(tmp_path, 1, "another-host")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old_foreign, (two_days_ago, two_days_ago))
    recent_foreign = _temporary(tmp_path, 2, "yet-another-host")
    unrelated = tmp_path / ".gitkeep"
    unrelated.write_text("")
    assert [is_stale_temporary(p) for p in (dead, alive, old_foreign, recent_foreign, unrelated)] == [
        True, False, True, False, False]
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted([dead, old_foreign])
    assert sorted(tmp_path.iterdir()) == sorted([alive, recent_foreign, unrelated])


def test_a_file_in_place_of_a_folder_is_named(tmp_path):
    (tmp_path / "07_model_output").write_text("not a folder")
    target = tmp_path / "07_model_output" / "sweep" / "metrics.json"
    with pytest.raises(UnwritablePathError, match=f"{tmp_path / '07_model_output'} is a file, not a folder"):
        write_atomically(target, lambda handle: handle.write(b"{}"))
    with pytest.raises(DatasetError, match="is a file, not a folder"):
        AtomicJSONDataset(filepath=str(target)).save({"steps": 60})
    versioned = AtomicJSONDataset(filepath=str(target), version=Version(None, None))
    with pytest.raises(DatasetError, match="is a file, not a folder"):  # not "a file with the same name"
        versioned.save({"steps": 60})


def test_an_unwritable_folder_is_named(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(UnwritablePathError, match=f"cannot create folders in {tmp_path} \\(not writable\\)"):
        write_atomically(tmp_path / "new" / "metrics.json", lambda handle: handle.write(b"{}"))
