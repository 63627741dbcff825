"""A table is read only when it is whole: its digest is written beside it, and a table cut or changed
after it was written is refused by name (and counts as missing, so it is rebuilt) — the sweep tables
(``07_model_output/<sweep>/runs.csv``) and the versioned reporting tables alike."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.io.core import DatasetError, Version

from ntk_linearity.datasets import AtomicCSVDataset

TABLE = pd.DataFrame({"namespace": ["width_sweep.linear_m8_s0", "width_sweep.linear_m32_s0"],
                      "n_params": [24, 96], "delta_k": [0.07, 0.01]})


def _cut(path, fraction: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


@pytest.mark.parametrize("versioned", [False, True], ids=["sweep table", "reporting table"])
def test_a_cut_table_is_refused_by_name_and_counts_as_missing(tmp_path, versioned):
    path = tmp_path / "runs.csv"
    dataset = AtomicCSVDataset(filepath=str(path), save_args={"index": False},
                               version=Version(None, None) if versioned else None)
    dataset.save(TABLE)
    written = next(p for p in tmp_path.rglob("runs.csv") if p.is_file())
    assert (written.parent / "runs.csv.sha256").is_file()
    loaded = dataset.load()
    pd.testing.assert_frame_equal(loaded, TABLE)  # integers stay integers
    assert dataset.exists()

    _cut(written, 0.95)  # inside its last row
    with pytest.raises(DatasetError, match=rf"refusing to read the table {written}: its bytes do not match its "
                                           r"digest runs.csv.sha256 \(cut or changed after it was written\)"):
        dataset.load()
    assert not dataset.exists()  # --only-missing-outputs rebuilds it

    dataset.save(TABLE)  # rebuilt
    pd.testing.assert_frame_equal(dataset.load(), TABLE)


def test_a_table_without_its_digest_is_refused(tmp_path):
    path = tmp_path / "scaling.csv"
    TABLE.to_csv(path, index=False)  # written by something else, or a save killed before its digest
    dataset = AtomicCSVDataset(filepath=str(path))
    with pytest.raises(DatasetError, match="it has no digest scaling.csv.sha256"):
        dataset.load()
    assert not dataset.exists()
