"""What a run is, and when it is done: run fingerprints and commit records.

A run's **settings** are exactly what determines its numbers: its model family, architecture and
model settings, seed and learning rate, the training and Hessian settings (not ``progress_every``,
which only changes the logging), the settings of the data it trains on, and the versions of this
package and of JAX, and, for a run with the ball analysis of Proposition 2.2, the ball's settings.
Its **fingerprint** is a hash of those settings (:func:`fingerprint`).

A run is **committed** by its last output, ``run_summary``: besides the metrics, it holds a
:func:`commit_record` naming the fingerprint, the settings themselves, the digest of the data it
was trained on and the digest of every other file of the run. A run is done only if its commit
record exists, its fingerprint is the one the current configuration gives, and every file of the
run still has the digest the record names (:func:`commit_problems`); anything else (a kill between
two saves, a save that failed, a run made under other settings) is not done.

The synthetic data records its own settings (:func:`stamp_data`), so data generated under other
settings is never used silently (:func:`data_problems`).

Digests are of the *content* (array names, dtypes, shapes and bytes; canonical JSON), not of the
files, so they do not depend on how a file was written (compression, member order, JSON spacing).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import click
import jax
import numpy as np

from ntk_linearity.experiment.sweeps import RunSpec

SETTINGS_KEY = "settings"  # the member of the synthetic data that records its settings (JSON)
PROVENANCE_KEY = "provenance"  # the commit record's key in a run summary
NOT_DETERMINING = {"training": {"progress_every"}}  # settings that never change a number
# A run's files (catalog entries <sweep>.<group>.<run>.<name> in conf/base/catalog.yml): the commit
# record of its last output, RUN_COMMIT, digests the others.
RUN_FILES = ("initial_params", "final_params", "training_history", "training_metrics", "hessian_metrics")
RUN_COMMIT = "run_summary"  # a run's last output: commits the run
BALL_FILE = "ball_metrics"  # a run's ball analysis (Proposition 2.2), where its sweep switches it on
SUMMARIES = "summaries"  # copies of committed summaries: <sweep>.<group>.summaries, <sweep>.summaries


def run_files(run: RunSpec) -> tuple[str, ...]:
    """The files of a run that its commit record digests: :data:`RUN_FILES`, and its ball analysis
    when it has one."""
    return (*RUN_FILES, BALL_FILE) if run.ball is not None else RUN_FILES


def summary_copies(run: RunSpec) -> tuple[str, str]:
    """The datasets that hold a copy of the run's committed summary: its group's and its sweep's."""
    return f"{run.sweep}.{run.group}.{SUMMARIES}", f"{run.sweep}.{SUMMARIES}"


def _jsonable(value: Any) -> Any:
    """JSON-compatible form of settings (pydantic models, tuples, NaN spelt out)."""
    if hasattr(value, "model_dump"):
        return _jsonable(value.model_dump())
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


def canonical_json(value: Any) -> str:
    """One spelling of a JSON value: sorted keys, no spaces, NaN and infinities as strings."""
    return json.dumps(_jsonable(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


def fingerprint(settings: Mapping[str, Any]) -> str:
    """The first 16 hex digits of the SHA-256 of the canonical JSON of ``settings``."""
    return hashlib.sha256(canonical_json(settings).encode()).hexdigest()[:16]


def content_digest(value: Any) -> str:
    """SHA-256 of what a persisted value holds: for a dict of arrays, every name, dtype, shape and
    the bytes (C order); for anything else, its canonical JSON."""
    digest = hashlib.sha256()
    if isinstance(value, Mapping) and value and all(isinstance(v, (np.ndarray, jax.Array)) for v in value.values()):
        for name in sorted(value):
            array = np.ascontiguousarray(np.asarray(value[name]))
            digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
            digest.update(array.tobytes())
    else:
        digest.update(canonical_json(value).encode())
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """The versions that a run's numbers depend on besides its settings."""
    from ntk_linearity import __version__  # noqa: PLC0415 (the package imports the numerics)

    return {"ntk_linearity": __version__, "jax": jax.__version__}


def run_settings(run: RunSpec, data_settings: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly the settings that determine a run's numbers (module docstring)."""
    training = run.training.model_dump(exclude=NOT_DETERMINING["training"])
    settings = {
        "family": run.family, "architecture": run.architecture, "model": run.model,
        "seed": run.seed, "learning_rate": run.learning_rate, "training": training,
        "hessian": run.hessian, "data": data_settings, "versions": versions(),
    }
    if run.ball is not None:  # the ball analysis of Proposition 2.2 (not its run selection)
        settings["ball"] = run.ball.model_dump(exclude={"where"})
    return _jsonable(settings)


def run_fingerprint(run: RunSpec, data_settings: Mapping[str, Any]) -> str:
    return fingerprint(run_settings(run, data_settings))


def flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"training": {"max_steps": 300}}`` as ``{"training.max_steps": 300}``."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, Mapping) and value:
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The settings that differ, as ``"training.max_steps 300 -> 4000"``."""
    old, new = flatten(recorded), flatten(current)
    return [f"{key} {old.get(key, '(unset)')} -> {new.get(key, '(unset)')}"
            for key in sorted(old.keys() | new.keys()) if old.get(key) != new.get(key)]


# ---------------------------------------------------------------------------------------------
# The synthetic data
# ---------------------------------------------------------------------------------------------


def stamp_data(arrays: Mapping[str, np.ndarray], data_settings: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The data's arrays with the settings that generated them (a JSON string member)."""
    return dict(arrays) | {SETTINGS_KEY: np.asarray(canonical_json(data_settings))}


def data_problems(data: Mapping[str, Any], data_settings: Mapping[str, Any], group: str = "data") -> list[str]:
    """Why ``data`` is not the data of ``data_settings``, the parameter group ``group`` (an empty
    list when it is)."""
    if SETTINGS_KEY not in data:
        return ["it does not record the settings it was generated with"]
    recorded = json.loads(str(np.asarray(data[SETTINGS_KEY])))
    return [f"{group}.{change}" for change in differences(recorded, _jsonable(data_settings))]


class StaleDataError(click.ClickException):
    """The synthetic data on disk was generated under other settings (``kedro run`` prints the
    one-line message, no traceback)."""


def require_data(data: Mapping[str, Any], data_settings: Mapping[str, Any], group: str = "data") -> None:
    """Refuse data generated under other settings than ``data_settings`` (parameter group ``group``)."""
    problems = data_problems(data, data_settings, group)
    if problems:
        raise StaleDataError(f"the synthetic data on disk does not match the configuration "
                             f"({'; '.join(problems)}); regenerate it with "
                             "`kedro run --pipelines data_generation`")


# ---------------------------------------------------------------------------------------------
# Commit records
# ---------------------------------------------------------------------------------------------


def commit_record(run: RunSpec, data_settings: Mapping[str, Any], data: Mapping[str, Any],
                  files: Mapping[str, Any]) -> dict[str, Any]:
    """What a run summary records to commit its run: fingerprint, settings, the data's digest and
    the digest of each of the run's other ``files`` (name -> persisted value)."""
    settings = run_settings(run, data_settings)
    return {"fingerprint": fingerprint(settings), "settings": settings,
            "data_digest": content_digest(data),
            "files": {name: content_digest(value) for name, value in files.items()}}


def commit_problems(summary: Mapping[str, Any] | None, run: RunSpec, data_settings: Mapping[str, Any],
                    files: Mapping[str, Any] | None = None, data: Mapping[str, Any] | None = None) -> list[str]:
    """Why a run is not done (an empty list when it is): no summary, a summary without a commit
    record, other settings (each difference named), or, when given, ``files`` (name -> value on
    disk, ``None`` when missing or unreadable) or ``data`` that are not those the record names."""
    if summary is None:
        return ["no run summary (the run has not finished)"]
    record = summary.get(PROVENANCE_KEY)
    if not isinstance(record, Mapping):
        return ["its run summary has no commit record"]
    settings = run_settings(run, data_settings)
    if record.get("fingerprint") != fingerprint(settings):
        return differences(record.get("settings", {}), settings) or ["another fingerprint"]
    problems = []
    for name, value in (files or {}).items():
        if value is None:
            problems.append(f"{name} is missing or unreadable")
        elif record["files"].get(name) != content_digest(value):
            problems.append(f"{name} is not the one its summary was made from")
    if data is not None and record.get("data_digest") != content_digest(data):
        problems.append("the synthetic data is not the data it was trained on")
    return problems


class StaleResultsError(click.ClickException):
    """Persisted run results that the current configuration did not make (one-line message)."""


def stale_results_message(problems: Mapping[str, list[str]]) -> str:
    """One line naming the runs whose results do not match the configuration (grouped by what
    differs), and how to recompute them."""
    by_reason: dict[str, list[str]] = {}
    for namespace, why in problems.items():
        by_reason.setdefault("; ".join(why[:4]) + ("; ..." if len(why) > 4 else ""), []).append(namespace)
    groups = [f"{len(names)} run{'s' if len(names) > 1 else ''} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}): {reason}"
              for reason, names in list(by_reason.items())[:4]]
    more = f"; and {len(by_reason) - 4} other differences" if len(by_reason) > 4 else ""
    return (f"results on disk do not match the configuration: {' | '.join(groups)}{more}; recompute them "
            "with `kedro run --only-missing-outputs` (or `kedro run --pipelines <sweep>`)")
