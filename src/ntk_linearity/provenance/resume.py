"""Which results on disk a run may trust, decided before any node runs.

:func:`plan_resume` reads the commit record of every run the pipeline makes or reads
(:mod:`ntk_linearity.provenance.ledger`) and the settings recorded in the synthetic data:

* a run the pipeline **makes** that is not done (never committed, killed between two saves, made
  under other settings, data changed) is recomputed: with ``--only-missing-outputs`` its files
  count as missing (:class:`~ntk_linearity.provenance.catalog.LedgerCatalog`);
* a run the pipeline only **reads**, its summary or a copy of it (``--pipelines reporting`` reads the
  sweeps' ``<sweep>.summaries``), that is not done, or whose copy is not its committed summary (a
  run redone after the copy was made, a copy missing), stops the run with one line naming it, what
  differs, and how to recompute it;
* synthetic data generated under other settings is regenerated when the pipeline makes it and
  refused when it only reads it (``--namespaces sweeps.<sweep>`` after a change of ``data.*``);
* with ``--only-missing-outputs`` the copies of the summaries, the sweeps' tables, the figures and the
  report always count as missing: they are rebuilt from the committed runs (seconds), so a report
  never combines tables of different runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kedro.io import DatasetError
from kedro.pipeline import Pipeline

from ntk_linearity.experiment.families import DATA_GROUPS
from ntk_linearity.provenance.ledger import (
    StaleDataError,
    RUN_COMMIT,
    StaleResultsError,
    commit_problems,
    content_digest,
    data_problems,
    run_files,
    stale_results_message,
    summary_copies,
)
from ntk_linearity.experiment.parameters import Experiment
from ntk_linearity.experiment.sweeps import RunSpec

logger = logging.getLogger(__name__)
MAX_LOGGED_RUNS = 10


@dataclass
class ResumePlan:
    """Datasets on disk that count as missing, and why runs are recomputed (namespace -> reasons)."""

    missing: set[str] = field(default_factory=set)
    recomputed: dict[str, list[str]] = field(default_factory=dict)


def load_or_none(catalog: Any, name: str) -> Any:
    """The persisted value of ``name``, or ``None`` when it is missing or unreadable."""
    try:
        return catalog.load(name) if catalog.exists(name) else None
    except (DatasetError, OSError, ValueError):
        return None


def _data_plan(experiment: Experiment, pipeline: Pipeline, catalog: Any, plan: ResumePlan,
               only_missing_outputs: bool) -> dict[str, Any]:
    """The synthetic data the runs can be checked against, by dataset name (``None`` where it is
    regenerated here or not part of the pipeline)."""
    return {dataset: _dataset_plan(dataset, settings, pipeline, catalog, plan, only_missing_outputs)
            for dataset, settings in experiment.data_settings.items()}


def _dataset_plan(dataset: str, settings: dict, pipeline: Pipeline, catalog: Any, plan: ResumePlan,
                  only_missing_outputs: bool) -> Any:
    """One dataset of :func:`_data_plan`."""
    if dataset not in pipeline.datasets():
        return None
    data = load_or_none(catalog, dataset)
    problems = ["it is missing or unreadable"] if data is None else data_problems(data, settings, DATA_GROUPS[dataset])
    if dataset in pipeline.inputs():
        if problems:
            raise StaleDataError(f"{dataset} cannot be used: {'; '.join(problems)}; regenerate it with "
                                 "`kedro run --pipelines data_generation` (or run everything: `kedro run`)")
        return data
    if problems and only_missing_outputs:
        plan.missing.add(dataset)
        logger.info("%s is regenerated: %s", dataset, "; ".join(problems))
        return None
    return None if problems else data


def _copy_problems(run: RunSpec, summary: Any, copies: dict[str, Any]) -> list[str]:
    """Why the copies of the run's summary that a pipeline reads (``copies``: dataset name -> loaded
    value, ``None`` when missing or unreadable) cannot stand in for its committed ``summary``."""
    committed = content_digest(summary)
    return [f"{name} is missing or unreadable" if not isinstance(held, Mapping)
            else f"{name} does not hold its committed summary"
            for name, held in copies.items()
            if not isinstance(held, Mapping) or content_digest(held.get(run.namespace)) != committed]


def _run_problems(run: RunSpec, experiment: Experiment, catalog: Any, data: Any, copies: dict[str, Any]) -> list[str]:
    """Why the run is not done (:func:`~ntk_linearity.provenance.ledger.commit_problems` on disk),
    or why the copies of its summary in ``copies`` are not its committed summary."""
    namespace = run.pipeline_namespace
    summary = load_or_none(catalog, f"{namespace}.{RUN_COMMIT}")
    files = None if summary is None else {name: load_or_none(catalog, f"{namespace}.{name}") for name in run_files(run)}
    problems = commit_problems(summary, run, experiment.data_settings[run.dataset], files, data)
    return problems or _copy_problems(run, summary, copies)


def plan_resume(experiment: Experiment, pipeline: Pipeline, catalog: Any, only_missing_outputs: bool) -> ResumePlan:
    """What ``pipeline`` must recompute (module docstring); raises :class:`StaleResultsError` or
    :class:`StaleDataError` for results it reads but does not make."""
    plan = ResumePlan()
    made, read = pipeline.all_outputs(), pipeline.inputs()
    data = _data_plan(experiment, pipeline, catalog, plan, only_missing_outputs)
    copies_read = {name: load_or_none(catalog, name)
                   for name in {name for run in experiment.runs for name in summary_copies(run)} & read}
    refused = {}
    for run in experiment.runs:
        commit = f"{run.pipeline_namespace}.{RUN_COMMIT}"
        copies = {name: copies_read[name] for name in summary_copies(run) if name in copies_read}
        reads = commit in read or bool(copies)
        if not (reads or (commit in made and only_missing_outputs)):
            continue
        problems = _run_problems(run, experiment, catalog, data[run.dataset], copies)
        if not problems:
            continue
        if reads:
            refused[run.namespace] = problems
        else:
            plan.recomputed[run.namespace] = problems
            plan.missing |= {f"{run.pipeline_namespace}.{name}" for name in (*run_files(run), RUN_COMMIT)} & made
    if refused:
        raise StaleResultsError(stale_results_message(refused))
    if only_missing_outputs:
        run_datasets = {f"{run.pipeline_namespace}.{name}" for run in experiment.runs
                        for name in (*run_files(run), RUN_COMMIT)}
        plan.missing |= made - run_datasets - set(experiment.data_settings)
    return plan


def log_plan(plan: ResumePlan) -> None:
    """One line per recomputed run (at most ``MAX_LOGGED_RUNS``), then a count."""
    for namespace, problems in list(plan.recomputed.items())[:MAX_LOGGED_RUNS]:
        logger.info("%s is recomputed: %s", namespace, "; ".join(problems))
    if len(plan.recomputed) > MAX_LOGGED_RUNS:
        logger.info("... and %d more runs are recomputed", len(plan.recomputed) - MAX_LOGGED_RUNS)
