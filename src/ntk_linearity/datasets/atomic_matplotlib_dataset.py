"""``AtomicMatplotlibDataset``: kedro-datasets' ``matplotlib.MatplotlibDataset`` whose local saves
are atomic.

``MatplotlibDataset`` renders a figure into memory and then streams the bytes into the target, so a
run killed during that write leaves a truncated PNG (an image cut off half-way, or one no viewer
opens) in the version folder, which loading and kedro-viz then take for the newest figure.

A saved figure loads back as its PNG bytes (``MatplotlibDataset`` cannot load), so a node may read it:
the report reads every figure it shows.
"""

from __future__ import annotations

import io
from pathlib import Path

from kedro.io.core import get_filepath_str
from kedro_datasets.matplotlib import MatplotlibDataset
from matplotlib.figure import Figure

from ntk_linearity.datasets.atomic import write_atomically


class AtomicMatplotlibDataset(MatplotlibDataset):
    """``matplotlib.MatplotlibDataset`` (same arguments, versioning included) that, on the local
    filesystem, renders each figure with ``save_args`` first, writes it to a hidden temporary sibling,
    flushes it and renames it over the target: each image file is the previous one or the complete
    new one. Other filesystems save as ``MatplotlibDataset`` does.

    A list or dict of figures is saved one atomic file at a time (the folder as a whole is not).

    Example catalog entry::

        fig1_delta_k_vs_width:
          type: ntk_linearity.datasets.AtomicMatplotlibDataset
          filepath: data/08_reporting/fig1_delta_k_vs_width.png
          versioned: true
          save_args: {dpi: 130}
    """

    def _save_to_fs(self, full_key_path: str, plot: Figure) -> None:
        if self._protocol != "file":
            super()._save_to_fs(full_key_path, plot)
            return
        buffer = io.BytesIO()
        plot.savefig(buffer, **self._save_args)
        payload = buffer.getvalue()
        write_atomically(Path(full_key_path), lambda handle: handle.write(payload))

    def load(self) -> bytes:
        """The saved PNG (the newest version of a versioned figure) as bytes."""
        load_path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(load_path, mode="rb") as image:
            return image.read()
