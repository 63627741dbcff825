"""``NpzDataset`` saves a flat ``dict`` of arrays to an uncompressed ``.npz`` file
and loads it back as ``dict[str, numpy.ndarray]``, on any ``fsspec`` filesystem.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections.abc import Mapping
from copy import deepcopy
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
import numpy as np
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)

from ntk_linearity.datasets.atomic import write_atomically


class NpzDataset(AbstractVersionedDataset[Mapping[str, Any], dict[str, np.ndarray]]):
    """Saves a flat ``dict[str, array-like]`` (NumPy or JAX arrays, scalars) to an
    uncompressed ``.npz`` archive and loads it back as ``dict[str, np.ndarray]``.

    Values are converted with ``np.asarray`` (a JAX array is copied to the host);
    dtypes and shapes round-trip exactly. Object arrays are refused: files are
    written and read with ``allow_pickle=False``.

    On the local filesystem a save is atomic: the archive is written to a
    temporary file in the target folder, flushed to disk and renamed over the
    target, so an interrupted run never leaves a half-written file. On other
    filesystems the archive is built in memory and written in one call.

    A truncated or corrupted file raises ``DatasetError`` naming the file.

    Example catalog entry:

    ```yaml
    "{namespace}.kernel_snapshots":
      type: ntk_linearity.datasets.NpzDataset
      filepath: data/07_model_output/{namespace}/kernel_snapshots.npz
      versioned: true
    ```

    Example Python use:

    ```python
    >>> import numpy as np
    >>> from ntk_linearity.datasets import NpzDataset
    >>> ds = NpzDataset(filepath=tmp_path / "arrays.npz")
    >>> ds.save({"K0": np.eye(3), "steps": np.arange(4)})
    >>> sorted(ds.load())
    ['K0', 'steps']
    ```
    """

    DEFAULT_FS_ARGS: dict[str, Any] = {
        "open_args_save": {"mode": "wb"},
        "open_args_load": {"mode": "rb"},
    }

    def __init__(  # noqa: PLR0913
        self,
        *,
        filepath: str | os.PathLike,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new ``NpzDataset``.

        Args:
            filepath: Path to the ``.npz`` file, optionally prefixed with an
                ``fsspec`` protocol (``s3://``, ``gcs://``, ...); local by default.
            version: Kedro ``Version``; ``None`` disables versioning.
            credentials: Credentials for the underlying filesystem.
            fs_args: Arguments for the filesystem constructor, plus nested
                ``open_args_load`` / ``open_args_save`` for its ``open`` method
                (the latter is unused on the local filesystem, which saves
                through a temporary file).
            metadata: Arbitrary metadata, ignored by Kedro.
        """
        _fs_args = deepcopy(fs_args) or {}
        _fs_open_args_load = _fs_args.pop("open_args_load", {})
        _fs_open_args_save = _fs_args.pop("open_args_save", {})
        _credentials = deepcopy(credentials) or {}

        protocol, path = get_protocol_and_path(filepath, version)
        if protocol == "file":
            _fs_args.setdefault("auto_mkdir", True)

        self._protocol = protocol
        self._fs = fsspec.filesystem(self._protocol, **_credentials, **_fs_args)
        self.metadata = metadata

        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

        self._fs_open_args_load = {
            **self.DEFAULT_FS_ARGS["open_args_load"],
            **_fs_open_args_load,
        }
        self._fs_open_args_save = {
            **self.DEFAULT_FS_ARGS["open_args_save"],
            **_fs_open_args_save,
        }

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._filepath,
            "protocol": self._protocol,
            "version": self._version,
        }

    def load(self) -> dict[str, np.ndarray]:
        load_path = get_filepath_str(self._get_load_path(), self._protocol)
        try:
            with self._fs.open(load_path, **self._fs_open_args_load) as fs_file:
                loaded = np.load(fs_file, allow_pickle=False)
                if not isinstance(loaded, np.lib.npyio.NpzFile):
                    raise ValueError("it holds a single .npy array, not an .npz archive")
                with loaded as npz:
                    # Indexing reads each member completely, so a truncated
                    # member or a CRC mismatch is detected here, not later.
                    return {key: npz[key] for key in npz.files}
        except (FileNotFoundError, IsADirectoryError):
            raise
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            ValueError,
            OSError,
            EOFError,
            pickle.UnpicklingError,
        ) as exc:
            raise DatasetError(
                f"NPZ file '{load_path}' is corrupted or truncated "
                f"({type(exc).__name__}: {exc}). Delete '{load_path}' and re-run the "
                f"pipeline (or node) that produces it."
            ) from exc

    def save(self, data: Mapping[str, Any]) -> None:
        arrays = self._to_arrays(data)
        save_path = get_filepath_str(self._get_save_path(), self._protocol)

        if self._protocol == "file":
            write_atomically(Path(save_path), lambda handle: _write_npz(handle, arrays))
        else:
            buffer = io.BytesIO()
            _write_npz(buffer, arrays)
            with self._fs.open(save_path, **self._fs_open_args_save) as fs_file:
                fs_file.write(buffer.getbuffer())

        self._invalidate_cache()

    def _exists(self) -> bool:
        try:
            load_path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return self._fs.exists(load_path)

    def _release(self) -> None:
        super()._release()
        self._invalidate_cache()

    def _invalidate_cache(self) -> None:
        """Invalidate underlying filesystem caches."""
        filepath = get_filepath_str(self._filepath, self._protocol)
        self._fs.invalidate_cache(filepath)

    @staticmethod
    def _to_arrays(data: Mapping[str, Any]) -> dict[str, np.ndarray]:
        if not isinstance(data, Mapping):
            raise DatasetError(
                f"NpzDataset saves a dict of arrays, got {type(data).__name__}."
            )
        arrays: dict[str, np.ndarray] = {}
        for key, value in data.items():
            if not isinstance(key, str) or not key:
                raise DatasetError(
                    f"NpzDataset keys must be non-empty strings, got {key!r}."
                )
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise DatasetError(
                    f"NpzDataset cannot save key '{key}': object arrays need pickle, "
                    f"which this dataset refuses (got dtype {array.dtype})."
                )
            arrays[key] = array
        return arrays


def _write_npz(file: Any, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` archive (as ``np.savez`` does),
    without ``np.savez``'s keyword clash on keys such as ``file`` or
    ``allow_pickle``, and with pickling disabled.
    """
    with zipfile.ZipFile(
        file, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True
    ) as zf:
        for key, array in arrays.items():
            with zf.open(f"{key}.npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
