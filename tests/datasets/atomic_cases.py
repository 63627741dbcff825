"""The project's atomically saving datasets, each with a file name and two values to save in turn.

Shared by ``test_atomic_datasets.py`` and the child processes it kills mid-save.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any, Callable, NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from kedro.io import Version  # noqa: E402

from ntk_linearity.datasets import (  # noqa: E402
    AtomicCSVDataset,
    AtomicJSONDataset,
    AtomicMatplotlibDataset,
    AtomicTextDataset,
    HtmlReportDataset,
    NpzDataset,
)


def _figure(slope: float) -> plt.Figure:
    fig, ax = plt.subplots()
    ax.plot([1, 10, 100], [1, 10**slope, 100**slope])
    return fig


class Case(NamedTuple):
    dataset: Callable[..., Any]
    filename: str
    values: tuple[Callable[[], Any], Callable[[], Any]]  # fresh values (a figure is closed by its save)


CASES = {
    "csv": Case(AtomicCSVDataset, "runs.csv",
                (lambda: pd.DataFrame({"width": [8, 32], "delta_k": [0.5, 0.1]}),
                 lambda: pd.DataFrame({"width": range(5000), "delta_k": np.linspace(1, 2, 5000)}))),
    "json": Case(AtomicJSONDataset, "metrics.json",
                 (lambda: {"delta_k": 0.5}, lambda: {"delta_k": list(np.linspace(0, 1, 5000))})),
    "text": Case(AtomicTextDataset, "table1.md",
                 (lambda: "# Table 1\n\n| a |\n|---|\n| 1 |\n", lambda: "| row |\n" * 5000)),
    "html": Case(HtmlReportDataset, "report.html",
                 (lambda: "<html>first</html>", lambda: "<p>second</p>" * 5000)),
    "png": Case(AtomicMatplotlibDataset, "figure.png", (lambda: _figure(-0.5), lambda: _figure(0.0))),
    "npz": Case(NpzDataset, "arrays.npz",
                (lambda: {"K0": np.eye(3)}, lambda: {"K0": np.ones((200, 200))})),
}


def make(kind: str, target: Path, version: str | None = None, versioned: bool = False):
    """The dataset of ``kind`` at ``target``; versioned (saving ``version``, loading the newest
    when ``None``) if ``versioned``."""
    return CASES[kind].dataset(filepath=str(target), version=Version(None, version) if versioned else None)


class CutOffFile:
    """A binary file that writes half of the first chunk it is given, flushes it to disk, and then
    calls ``stop`` (which raises, or never returns until the process is killed)."""

    def __init__(self, handle, stop: Callable[[Path], None]):
        self._handle = handle
        self._stop = stop

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        self._handle.write(view[: max(1, len(view) // 2)])
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._stop(Path(self._handle.name))
        raise AssertionError("stop() returned")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> CutOffFile:
        return self

    def __exit__(self, *exc_info) -> None:
        self._handle.close()


def disk_full(partial: Path) -> None:
    raise OSError(errno.ENOSPC, f"No space left on device (after a partial write of {partial.name})")
