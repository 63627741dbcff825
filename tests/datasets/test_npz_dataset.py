"""Tests for ``ntk_linearity.datasets.NpzDataset``."""

from __future__ import annotations

import os
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from kedro.io import DatasetError, Version

from ntk_linearity.datasets import NpzDataset


@pytest.fixture
def arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "f32": rng.standard_normal((4, 3)).astype(np.float32),
        "f64": rng.standard_normal((5,)),
        "i32": np.arange(7, dtype=np.int32),
        "i64": np.arange(-3, 3, dtype=np.int64).reshape(2, 3),
        "scalar": np.float64(3.25),
        "empty": np.zeros((0, 2), dtype=np.float32),
        # names that would collide with np.savez's own keyword arguments
        "file": np.ones(2),
        "allow_pickle": np.zeros(1, dtype=np.int8),
    }


def assert_same_arrays(loaded: dict, expected: dict) -> None:
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        value = np.asarray(value)
        assert isinstance(loaded[key], np.ndarray), key
        assert loaded[key].dtype == value.dtype, key
        assert loaded[key].shape == value.shape, key
        np.testing.assert_array_equal(loaded[key], value, strict=True)


def test_round_trip_values_and_dtypes(tmp_path: Path, arrays: dict) -> None:
    dataset = NpzDataset(filepath=str(tmp_path / "arrays.npz"))
    dataset.save(arrays)
    assert_same_arrays(dataset.load(), arrays)


def test_round_trip_jax_arrays(tmp_path: Path) -> None:
    data = {
        "kernel": jnp.eye(3, dtype=jnp.float32) * 2.5,
        "steps": jnp.arange(5),
    }
    dataset = NpzDataset(filepath=str(tmp_path / "jax.npz"))
    dataset.save(data)
    loaded = dataset.load()
    assert_same_arrays(loaded, {k: np.asarray(v) for k, v in data.items()})
    assert loaded["kernel"].dtype == np.float32


def test_file_is_an_uncompressed_npz(tmp_path: Path, arrays: dict) -> None:
    import zipfile

    path = tmp_path / "arrays.npz"
    NpzDataset(filepath=str(path)).save(arrays)
    with zipfile.ZipFile(path) as zf:
        assert {info.compress_type for info in zf.infolist()} == {zipfile.ZIP_STORED}
    with np.load(path, allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["f32"], arrays["f32"])


def test_save_overwrites_atomically_and_leaves_no_temp_files(
    tmp_path: Path, arrays: dict
) -> None:
    path = tmp_path / "nested" / "dir" / "arrays.npz"
    dataset = NpzDataset(filepath=str(path))
    dataset.save(arrays)
    dataset.save({"only": np.arange(3)})
    assert_same_arrays(dataset.load(), {"only": np.arange(3)})
    assert sorted(os.listdir(path.parent)) == ["arrays.npz"]


def test_failed_save_keeps_previous_file(tmp_path: Path, arrays: dict) -> None:
    path = tmp_path / "arrays.npz"
    dataset = NpzDataset(filepath=str(path))
    dataset.save(arrays)
    before = path.read_bytes()
    with pytest.raises(DatasetError, match="object arrays"):
        dataset.save({"ok": np.ones(3), "bad": np.array([{}, []], dtype=object)})
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["arrays.npz"]


def test_rejects_non_dict(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="dict of arrays"):
        NpzDataset(filepath=str(tmp_path / "x.npz")).save(np.ones(3))


def test_exists(tmp_path: Path) -> None:
    dataset = NpzDataset(filepath=str(tmp_path / "arrays.npz"))
    assert not dataset.exists()
    dataset.save({"a": np.ones(2)})
    assert dataset.exists()


def test_versioned_save_keeps_both_versions(tmp_path: Path) -> None:
    filepath = str(tmp_path / "versioned.npz")
    first = {"a": np.arange(3, dtype=np.float64)}
    second = {"a": np.arange(4, dtype=np.float32)}

    unversioned_check = NpzDataset(filepath=filepath, version=Version(None, None))
    assert not unversioned_check.exists()

    NpzDataset(filepath=filepath, version=Version(None, "2024-01-01T00.00.00.000Z")).save(
        first
    )
    NpzDataset(filepath=filepath, version=Version(None, "2024-01-02T00.00.00.000Z")).save(
        second
    )

    latest = NpzDataset(filepath=filepath, version=Version(None, None))
    assert latest.exists()
    assert latest.list_versions(full_path=False) == [
        "2024-01-02T00.00.00.000Z",
        "2024-01-01T00.00.00.000Z",
    ]
    assert_same_arrays(latest.load(), second)
    pinned = NpzDataset(filepath=filepath, version=Version("2024-01-01T00.00.00.000Z", None))
    assert_same_arrays(pinned.load(), first)
    assert (tmp_path / "versioned.npz" / "2024-01-01T00.00.00.000Z" / "versioned.npz").is_file()


def test_versioned_save_refuses_existing_version(tmp_path: Path) -> None:
    version = Version(None, "2024-01-01T00.00.00.000Z")
    dataset = NpzDataset(filepath=str(tmp_path / "v.npz"), version=version)
    dataset.save({"a": np.ones(1)})
    with pytest.raises(DatasetError, match="must not exist"):
        dataset.save({"a": np.zeros(1)})


def _assert_corruption_error(excinfo: pytest.ExceptionInfo, path: Path) -> None:
    message = str(excinfo.value)
    assert str(path) in message
    assert "corrupted or truncated" in message
    assert "Delete" in message and "re-run" in message


def test_truncated_file_raises_dataset_error_naming_path(
    tmp_path: Path, arrays: dict
) -> None:
    path = tmp_path / "arrays.npz"
    dataset = NpzDataset(filepath=str(path))
    dataset.save(arrays)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError) as excinfo:
        dataset.load()
    _assert_corruption_error(excinfo, path)


def test_truncated_member_is_detected(tmp_path: Path) -> None:
    """Keep the zip directory intact but damage the bytes of an array."""
    path = tmp_path / "arrays.npz"
    dataset = NpzDataset(filepath=str(path))
    dataset.save({"big": np.arange(10_000, dtype=np.float64)})
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\x00" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError) as excinfo:
        dataset.load()
    _assert_corruption_error(excinfo, path)


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not an npz file at all" * 10, b"PK\x03\x04garbage" * 20],
    ids=["empty", "text", "fake-zip-header"],
)
def test_garbage_file_raises_dataset_error_naming_path(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "garbage.npz"
    path.write_bytes(content)
    with pytest.raises(DatasetError) as excinfo:
        NpzDataset(filepath=str(path)).load()
    _assert_corruption_error(excinfo, path)


def test_single_npy_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "single.npz"
    with path.open("wb") as f:
        np.save(f, np.ones(3))
    with pytest.raises(DatasetError) as excinfo:
        NpzDataset(filepath=str(path)).load()
    _assert_corruption_error(excinfo, path)


def test_missing_file_is_not_reported_as_corrupted(tmp_path: Path) -> None:
    path = tmp_path / "missing.npz"
    with pytest.raises(DatasetError) as excinfo:
        NpzDataset(filepath=str(path)).load()
    assert "corrupted" not in str(excinfo.value)


def test_memory_filesystem_round_trip(arrays: dict) -> None:
    dataset = NpzDataset(filepath="memory://ntk-linearity-test/arrays.npz")
    dataset.save(arrays)
    assert dataset.exists()
    assert_same_arrays(dataset.load(), arrays)


def test_describe_and_catalog_config(tmp_path: Path) -> None:
    from kedro.io import DataCatalog

    catalog = DataCatalog.from_config(
        {
            "snapshots": {
                "type": "ntk_linearity.datasets.NpzDataset",
                "filepath": str(tmp_path / "snap.npz"),
                "versioned": True,
            }
        }
    )
    catalog.save("snapshots", {"k": np.eye(2)})
    assert_same_arrays(catalog.load("snapshots"), {"k": np.eye(2)})
    assert "snap.npz" in repr(catalog["snapshots"])
