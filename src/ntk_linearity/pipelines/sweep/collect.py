"""A run's summary (its last node, which commits it) and the sweep's tables gathered from the summaries.

``summarise_run`` writes the run's metrics, curves and commit record
(:mod:`ntk_linearity.provenance.ledger`); ``collect_summaries`` copies the committed summaries of a
group of runs into one dataset and ``merge_summaries`` those of a sweep's groups; ``collect_sweep``
and ``collect_ball`` turn the committed summaries of a sweep into ``runs_table``, ``training_curves``
and ``ball_table`` in the schemas of :mod:`ntk_linearity.pipelines.schema`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ntk_linearity.experiment.sweeps import RunSpec
from ntk_linearity.pipelines.schema import BALL_COLUMNS, CURVE_KEYS, RUN_COLUMNS, sort_runs
from ntk_linearity.provenance.ledger import (
    BALL_FILE,
    PROVENANCE_KEY,
    StaleResultsError,
    commit_problems,
    commit_record,
    stale_results_message,
)

MAX_CURVE_POINTS = 200
BALL_POINTS = "ball_points"  # the key of a run summary that holds its ball analysis' points


def _log_spaced(values: np.ndarray, n_points: int) -> tuple[list[int], list[float]]:
    """At most ``n_points`` log-spaced (step, value) pairs of a per-step curve, ends included."""
    steps = np.unique(np.round(np.geomspace(1, len(values), n_points)).astype(int) - 1)
    steps = np.unique(np.concatenate([[0], steps, [len(values) - 1]]))
    return steps.tolist(), values[steps].astype(float).tolist()


SNAPSHOT_CURVES = ("delta_k", "lambda_max", "lambda_min")  # per kernel snapshot, from the history


def run_curves(history: dict) -> list[tuple[str, int, float]]:
    """(curve, step, value) of one run: at every kernel snapshot Delta K(t), lambda_max(K_t/n) and
    lambda_min(K_t/n); the loss at most ``MAX_CURVE_POINTS`` log-spaced steps (ends included). A
    diverged run has none."""
    if len(history["losses"]) == 0:
        return []
    loss_steps, loss_values = _log_spaced(np.asarray(history["losses"]), MAX_CURVE_POINTS)
    steps = np.asarray(history["snapshot_steps"]).astype(int).tolist()
    snapshots = [(curve, step, value) for curve in SNAPSHOT_CURVES
                 for step, value in zip(steps, np.asarray(history[curve]).astype(float).tolist())]
    return snapshots + [("loss", step, value) for step, value in zip(loss_steps, loss_values)]


def summarise_run(initial_params: dict, final_params: dict, training_history: dict, training_metrics: dict,
                  hessian_metrics: dict, data: dict, *, run: RunSpec, data_settings: dict,
                  ball_metrics: dict | None = None) -> dict:
    """The run's one record for its sweep: its training and Hessian metrics, its curves
    (``[curve, step, value]`` triples from its history), the summary and points of its ball analysis
    (where it has one) and its commit record (the run's fingerprint and settings, and the digests
    of its data and of its other files, see :mod:`ntk_linearity.provenance.ledger`). Written last, it commits
    the run.

    Nine parameters: a Kedro node takes one argument per input dataset (the run's files and its
    data), then the settings bound into it."""
    files = {"initial_params": initial_params, "final_params": final_params,
             "training_history": training_history, "training_metrics": training_metrics,
             "hessian_metrics": hessian_metrics}
    ball = {}
    if ball_metrics is not None:
        files[BALL_FILE] = ball_metrics
        ball = ball_metrics["summary"] | {BALL_POINTS: ball_metrics["points"]}
    return (training_metrics | hessian_metrics | ball
            | {"curves": [list(point) for point in run_curves(training_history)],
               PROVENANCE_KEY: commit_record(run, data_settings, data, files)})


def collect_summaries(*summaries: dict, runs: tuple[RunSpec, ...]) -> dict[str, dict]:
    """The committed summaries of ``runs`` (in the same order) by run namespace: a group's one output."""
    return {run.namespace: summary for run, summary in zip(runs, summaries, strict=True)}


def merge_summaries(*groups: dict[str, dict]) -> dict[str, dict]:
    """The summaries of a sweep's groups (:func:`collect_summaries`) in one dataset, by run namespace."""
    return {namespace: summary for group in groups for namespace, summary in group.items()}


def _check_committed(summaries: tuple[dict, ...], runs: tuple[RunSpec, ...], data_settings: dict) -> None:
    """Refuse a summary that was not made under the current configuration (another fingerprint, see
    :mod:`ntk_linearity.provenance.ledger`): a table never mixes settings."""
    stale = {run.namespace: problems for run, summary in zip(runs, summaries)
             if (problems := commit_problems(summary, run, data_settings))}
    if stale:
        raise StaleResultsError(stale_results_message(stale))


def collect_sweep(*summaries: dict, runs: tuple[RunSpec, ...], data_settings: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per run of a sweep from the runs' summaries (``runs``, in the same order), and the
    Delta K(t) and loss curves of every run in one long table (run keys, curve, step, value).

    A summary that was not made under the current configuration is refused (:func:`_check_committed`)."""
    _check_committed(summaries, runs, data_settings)
    rows, curves = [], []
    for summary in summaries:
        record = dict(summary)
        record.pop(BALL_POINTS, None)  # the ball's points go to the ball table (collect_ball)
        run_points = record.pop("curves")
        record["fingerprint"] = record.pop(PROVENANCE_KEY)["fingerprint"]
        rows.append(record)
        keys = {k: record.get(k) for k in CURVE_KEYS}
        curves += [keys | {"curve": curve, "step": step, "value": value} for curve, step, value in run_points]
    runs_table = sort_runs(pd.DataFrame(rows).reindex(columns=RUN_COLUMNS))
    return runs_table, pd.DataFrame(curves, columns=[*CURVE_KEYS, "curve", "step", "value"])


def collect_ball(*summaries: dict, runs: tuple[RunSpec, ...], data_settings: dict) -> pd.DataFrame:
    """Every measured point of the ball analyses of a sweep's ``runs`` (their summaries, in the same
    order) in one long table: the run's keys, then one row per point (:func:`analyse_ball`). Summaries
    made under other settings are refused (:func:`_check_committed`)."""
    _check_committed(summaries, runs, data_settings)
    rows = [{key: summary.get(key) for key in CURVE_KEYS} | point
            for summary in summaries for point in summary.get(BALL_POINTS, [])]
    return pd.DataFrame(rows).reindex(columns=BALL_COLUMNS)
