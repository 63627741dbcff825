"""Every dataset that saves atomically: a save interrupted mid-write (an exception, or ``kill -9`` of
the process) leaves the previous file or no file, never a partial one; a failed save leaves no
temporary file, and loading the newest version never reads one a killed save left behind."""

from __future__ import annotations

import builtins
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ntk_linearity.datasets import atomic

from atomic_cases import CASES, CutOffFile, disk_full, make

V1, V2 = "2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"
LOADABLE = [kind for kind in CASES if kind != "png"]  # MatplotlibDataset does not load


def files(folder: Path) -> dict[Path, bytes]:
    """Every file under ``folder`` (hidden ones included) with its content."""
    return {path: path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def cut_off_saves(monkeypatch) -> list[Path]:
    """From now on every atomic write stops with a full disk after writing half of its first chunk;
    returns the list of the temporary files it wrote to."""
    partial = []

    def fail(path: Path) -> None:
        partial.append((path, path.stat().st_size))
        disk_full(path)

    monkeypatch.setattr(atomic, "open", lambda path, mode: CutOffFile(builtins.open(path, mode), fail),
                        raising=False)
    return partial


@pytest.mark.parametrize("versioned", [False, True], ids=["plain", "versioned"])
@pytest.mark.parametrize("kind", CASES)
def test_a_save_failing_mid_write_leaves_the_previous_file_or_none(tmp_path, monkeypatch, kind, versioned):
    target = tmp_path / CASES[kind].filename
    first, second = CASES[kind].values

    with monkeypatch.context() as patch:
        partial = cut_off_saves(patch)
        with pytest.raises(Exception, match="No space left on device"):
            make(kind, target, V1, versioned).save(first())
        assert partial and partial[0][1] > 0  # something was written before the failure
        assert files(tmp_path) == {}  # no file: neither a partial target nor a temporary file

    make(kind, target, V1, versioned).save(first())
    before = files(tmp_path)
    assert len([path for path in before if path.suffix != ".sha256"]) == 1  # (a table has its digest beside it)

    with monkeypatch.context() as patch:
        partial = cut_off_saves(patch)
        with pytest.raises(Exception, match="No space left on device"):
            make(kind, target, V2, versioned).save(second())
        assert partial and partial[0][1] > 0

    assert files(tmp_path) == before  # the previous file, byte for byte, and nothing else


@pytest.mark.parametrize("kind", CASES)
def test_the_newest_version_is_never_a_temporary_file(tmp_path, kind):
    target = tmp_path / CASES[kind].filename
    make(kind, target, V1, versioned=True).save(CASES[kind].values[0]())
    killed = target / V2  # a newer version folder holding only what a killed save left
    killed.mkdir()
    (killed / f".{target.name}.0123abcd.tmp").write_bytes(b"partial")

    newest = make(kind, target, None, versioned=True)
    assert newest.resolve_load_version() == V1
    assert newest.exists()
    if kind in LOADABLE:
        assert files(target / V1)  # the complete version is what loads
        newest.load()


CHILD = """
import builtins, sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from atomic_cases import CASES, CutOffFile, make
from ntk_linearity.datasets import atomic

kind, target, version, marker = sys.argv[1:]

def wait_for_kill(partial):
    Path(marker).write_text(str(partial))
    time.sleep(3600)

atomic.open = lambda path, mode: CutOffFile(builtins.open(path, mode), wait_for_kill)
make(kind, Path(target), version, versioned=True).save(CASES[kind].values[1]())
"""


def save_and_kill(kind: str, target: Path, version: str, marker: Path) -> Path:
    """Save in a child process, ``kill -9`` it once half of the first chunk is on disk; the path of
    the temporary file it was writing."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=str(Path(__file__).parent)), kind, str(target), version,
         str(marker)],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        while not marker.exists():
            if child.poll() is not None:
                pytest.fail(f"the child exited before its save was cut off:\n{child.stderr.read()}")
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    return Path(marker.read_text())


@pytest.mark.parametrize("kind", ["text", "png"])  # the report's Markdown and figures (CSV, JSON,
def test_kill_9_mid_save_keeps_the_previous_version(tmp_path, kind):  # HTML, NPZ share the writer)
    target = tmp_path / CASES[kind].filename
    make(kind, target, V1, versioned=True).save(CASES[kind].values[0]())
    before = files(target / V1)

    partial = save_and_kill(kind, target, V2, tmp_path / "cut.txt")

    assert partial.parent == target / V2 and partial.stat().st_size > 0  # killed mid-write
    assert [p.name for p in (target / V2).iterdir()] == [partial.name]  # no target file in V2
    assert files(target / V1) == before
    newest = make(kind, target, None, versioned=True)
    assert newest.resolve_load_version() == V1
    if kind in LOADABLE:
        assert newest.load() == make(kind, target, V1, versioned=True).load()
