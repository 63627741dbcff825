"""Run fingerprints, content digests and commit records (ntk_linearity.provenance.ledger), on real RunSpecs of
conf/base and real files written by the project's datasets."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from ntk_linearity.datasets import AtomicJSONDataset, NpzDataset
from ntk_linearity.provenance.ledger import (
    StaleDataError,
    commit_problems,
    commit_record,
    content_digest,
    data_problems,
    differences,
    fingerprint,
    require_data,
    run_fingerprint,
    stale_results_message,
    stamp_data,
)
from ntk_linearity.experiment.parameters import validate_parameters
from ntk_linearity.experiment.config import default_config_loader


@pytest.fixture(scope="module")
def base_parameters() -> dict:
    return copy.deepcopy(dict(default_config_loader("base")["parameters"]))


def _experiment(parameters: dict, **changes):
    """conf/base with ``changes`` = {"training.max_steps": 80, ...}."""
    parameters = copy.deepcopy(parameters)
    for path, value in changes.items():
        group, key = path.split(".")
        parameters[group][key] = value
    return validate_parameters(parameters)


def _files(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"initial_params": {"layer_1": rng.normal(size=(3, 4)).astype(np.float32)},
            "training_metrics": {"steps": 60, "final_loss": 1.5e-3, "delta_k": float("nan"), "error": ""}}


def _fingerprint(experiment, run) -> str:
    """The fingerprint of ``run`` with the settings of the data it trains on."""
    return run_fingerprint(run, experiment.data_settings[run.dataset])


def test_fingerprint_changes_with_every_determining_setting_and_only_with_those(base_parameters):
    run = _experiment(base_parameters).runs[0]
    experiment = _experiment(base_parameters)
    reference = _fingerprint(experiment, run)
    assert reference == _fingerprint(experiment, _experiment(base_parameters).runs[0])
    for change in ({"training.max_steps": 4000}, {"hessian.lanczos_steps": 5}, {"model.dtype": "float64"},
                   {"training.on_divergence": "skip"}, {"data.n_samples": 40}):
        changed = _experiment(base_parameters, **change)
        assert _fingerprint(changed, changed.runs[0]) != reference, change
    for change in ({"training.progress_every": 7}, {"images.n_samples": 40}):  # logging; another data set
        changed = _experiment(base_parameters, **change)
        assert _fingerprint(changed, changed.runs[0]) == reference, change
    # every run of a grid is a different computation
    fingerprints = {_fingerprint(experiment, r) for r in experiment.runs}
    assert len(fingerprints) == len(experiment.runs)


def test_a_digits_runs_fingerprint_holds_the_datas_provenance(base_parameters, monkeypatch):
    """The digits' settings, scikit-learn's version and the chosen indices (by their digest) are part of
    the fingerprint of a run on the digits, and of no other run's."""
    from ntk_linearity.experiment import groups

    def fingerprints(experiment):
        return {run.namespace: _fingerprint(experiment, run) for run in experiment.runs}

    reference = fingerprints(_experiment(base_parameters))
    digits = {name for name in reference if name.startswith("digits_width_sweep.")}
    assert digits
    for change in ({"digits.seed": 1}, {"digits.n_samples": 65}, {"digits.preprocessing": "raw"},
                   {"digits.label_smoothing": 0.2}):
        changed = fingerprints(_experiment(base_parameters, **change))
        assert {name for name in reference if changed[name] != reference[name]} == digits, change
    # the same settings choosing other images (another numpy's permutation), another scikit-learn
    groups._indices_digest.cache_clear()
    monkeypatch.setattr(groups, "subset_indices", lambda seed, n: np.arange(n))
    other_indices = fingerprints(_experiment(base_parameters))
    groups._indices_digest.cache_clear()
    monkeypatch.undo()
    monkeypatch.setattr(groups, "version", lambda package: "0.0")
    other_version = fingerprints(_experiment(base_parameters))
    for changed in (other_indices, other_version):
        assert {name for name in reference if changed[name] != reference[name]} == digits
    groups._indices_digest.cache_clear()


def test_fingerprint_does_not_depend_on_key_order():
    assert fingerprint({"a": 1, "b": {"c": 2.5, "d": [1, 2]}}) == fingerprint({"b": {"d": [1, 2], "c": 2.5}, "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 1.5})


def test_differences_name_each_changed_setting():
    old = {"training": {"max_steps": 300, "tol": 1e-5}, "model": {"dtype": "float32"}}
    new = {"training": {"max_steps": 4000, "tol": 1e-5}, "model": {"dtype": "float64"}, "seed": 1}
    assert differences(old, new) == ["model.dtype float32 -> float64", "seed (unset) -> 1",
                                     "training.max_steps 300 -> 4000"]


def test_content_digest_is_of_the_arrays_not_of_the_file(tmp_path):
    """The same arrays saved by the project's dataset and by numpy's compressed writer (other bytes,
    other member order) have one digest; one changed element, dtype or name changes it."""
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "v": np.ones(3)}
    NpzDataset(filepath=str(tmp_path / "a.npz")).save(arrays)
    np.savez_compressed(tmp_path / "b.npz", v=arrays["v"], w=arrays["w"])
    assert (tmp_path / "a.npz").read_bytes() != (tmp_path / "b.npz").read_bytes()
    loaded = [NpzDataset(filepath=str(tmp_path / name)).load() for name in ("a.npz", "b.npz")]
    assert content_digest(loaded[0]) == content_digest(loaded[1]) == content_digest(arrays)
    changed = {"w": arrays["w"].copy(), "v": arrays["v"]}
    changed["w"][1, 2] += 1e-6
    assert content_digest(changed) != content_digest(arrays)
    assert content_digest({"w": arrays["w"].astype(np.float64), "v": arrays["v"]}) != content_digest(arrays)
    assert content_digest({"u": arrays["w"], "v": arrays["v"]}) != content_digest(arrays)


def test_content_digest_of_json_survives_a_round_trip_with_nan(tmp_path):
    metrics = _files()["training_metrics"]
    dataset = AtomicJSONDataset(filepath=str(tmp_path / "m.json"))
    dataset.save(metrics)
    assert content_digest(dataset.load()) == content_digest(metrics)
    assert content_digest(metrics | {"steps": 61}) != content_digest(metrics)


def test_commit_record_accepts_its_own_run_and_names_every_mismatch(base_parameters):
    experiment = _experiment(base_parameters)
    run = experiment.runs[0]
    settings = experiment.data_settings[run.dataset]
    data = {"X": np.ones((4, 2))}
    files = _files()
    summary = {"steps": 60, "provenance": commit_record(run, settings, data, files)}
    assert commit_problems(summary, run, settings, files, data) == []

    other = _experiment(base_parameters, **{"training.max_steps": 4000})
    assert commit_problems(summary, other.runs[0], settings, files, data) == ["training.max_steps 5000 -> 4000"]
    tampered = files | {"initial_params": _files(seed=1)["initial_params"]}
    assert commit_problems(summary, run, settings, tampered, data) == [
        "initial_params is not the one its summary was made from"]
    assert commit_problems(summary, run, settings, files | {"training_metrics": None}, data) == [
        "training_metrics is missing or unreadable"]
    assert commit_problems(summary, run, settings, files, {"X": np.zeros((4, 2))}) == [
        "the synthetic data is not the data it was trained on"]
    assert commit_problems(None, run, settings) == ["no run summary (the run has not finished)"]
    assert commit_problems({"steps": 60}, run, settings) == ["its run summary has no commit record"]


def test_data_records_its_settings(base_parameters):
    settings = _experiment(base_parameters).data_settings["synthetic_data"]
    data = stamp_data({"X": np.ones((2, 2))}, settings)
    assert data_problems(data, settings) == []
    assert data_problems(data, settings | {"n_samples": settings["n_samples"] + 8}) == [
        f"data.n_samples {settings['n_samples']} -> {settings['n_samples'] + 8}"]
    assert data_problems({"X": np.ones((2, 2))}, settings) == [
        "it does not record the settings it was generated with"]
    with pytest.raises(StaleDataError, match="data.seed 0 -> 3.*--pipelines data_generation"):
        require_data(data, settings | {"seed": 3})


def test_stale_results_message_groups_runs_by_reason():
    message = stale_results_message({f"sweep.run{i}": ["training.max_steps 60 -> 80"] for i in range(5)}
                                    | {"other.run": ["final_params is not the one its summary was made from"]})
    assert "5 runs (sweep.run0, sweep.run1, sweep.run2, ...): training.max_steps 60 -> 80" in message
    assert "1 run (other.run): final_params is not the one" in message
    assert "kedro run --only-missing-outputs" in message
