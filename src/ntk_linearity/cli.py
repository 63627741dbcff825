"""Project commands (Kedro loads ``<package>.cli`` and lets its commands override its own).

``kedro run`` is Kedro's ``run`` with two changes:

* without ``--runner`` it uses :class:`ntk_linearity.execution.runners.RunByRunRunner`, which finishes
  the runs of a sweep one at a time, so an interrupted ``kedro run`` loses at most the run in progress;
  ``--runner SequentialRunner`` gives Kedro's layer-by-layer order;
* an error stops it with one line on the console (``Error: <what failed>: <why>``: a pipeline or
  namespace that does not exist with Kedro's suggestion or, for a sweep's namespace written without
  its ``sweeps.`` prefix, the name it means (:func:`namespace_hint`), a folder that cannot be written
  with its path and cause); the traceback goes to :data:`ERROR_LOG` and, with ``--verbose`` or
  ``NTK_VERBOSE=1``, to the console as well.

Every other option is Kedro's.
"""

from __future__ import annotations

import os
import re
import traceback
from pathlib import Path

import click
from kedro.framework.cli.project import run as kedro_run

from ntk_linearity.experiment.runs import SWEEPS_NAMESPACE

DEFAULT_RUNNER = "ntk_linearity.execution.runners.RunByRunRunner"
ERROR_LOG = Path("logs") / "last_error.log"  # under the project root (the working directory of `kedro run`)
VERBOSE_ENV = "NTK_VERBOSE"
DATASET_FAILURE = re.compile(r"Failed while (?:sav|load)\w* data (?:to|from) dataset .*?\)\.\s*")
MISSING_NAMESPACES = "does not contain nodes with the following namespaces"
NAMESPACE = re.compile(r"[A-Za-z_]\w*(\.\w+)*")


class RunError(click.ClickException):
    """A failed ``kedro run`` as one line (``kedro`` prints ``Error: <message>`` and exits with 1)."""


def one_line(error: BaseException) -> str:
    """``error`` and the causes it was raised from, on one line, each message said once: Kedro's
    ``DatasetError`` ("Failed while saving data to dataset ...") followed by the ``OSError`` beneath it."""
    parts: list[str] = []
    while error is not None:
        text = " ".join(str(error).split())
        if error.__cause__ is not None:  # Kedro's "Failed while saving data to dataset <repr>." says no more
            text = DATASET_FAILURE.sub("", text).rstrip(":. ")
        if isinstance(error, OSError) and error.filename and str(error.filename) not in text:
            text = f"{error.filename}: {text}"
        said = [text] + ([error.strerror] if isinstance(error, OSError) and error.strerror else [])
        if text and not any(piece in part for part in parts for piece in said):
            parts.append(text)
        error = error.__cause__
    return ": ".join(parts) or "failed"


def _log_traceback(error: BaseException) -> Path | None:
    """Write the traceback of ``error`` to :data:`ERROR_LOG`; its path, or ``None`` when it cannot be
    written (a full disk)."""
    try:
        ERROR_LOG.parent.mkdir(parents=True, exist_ok=True)
        ERROR_LOG.write_text("".join(traceback.format_exception(error)))
    except OSError:
        return None
    return ERROR_LOG


def namespace_hint(error: BaseException, namespaces) -> str:
    """For ``--namespaces`` naming no node: the sweeps' nodes are in ``sweeps.<sweep>[.<group>[.<run>]]``
    (:data:`~ntk_linearity.experiment.runs.SWEEPS_NAMESPACE`), so suggest the names with that prefix."""
    names = namespaces.split(",") if isinstance(namespaces, str) else list(namespaces or ())
    wanted = [name for name in names if NAMESPACE.fullmatch(name) and name.split(".")[0] != SWEEPS_NAMESPACE]
    if MISSING_NAMESPACES not in str(error) or not wanted:
        return ""
    return f"; a sweep's nodes are in sweeps.<sweep>: did you mean --namespaces " \
           f"{','.join(f'{SWEEPS_NAMESPACE}.{name}' for name in wanted)}?"


def _run(runner: str | None, verbose: bool = False, **options):
    try:
        return kedro_run.callback(runner=runner or DEFAULT_RUNNER, **options)
    except click.ClickException:
        raise
    except Exception as error:
        if verbose or os.environ.get(VERBOSE_ENV, "") not in ("", "0"):
            raise
        log = _log_traceback(error)
        where = f"the traceback is in {log}" if log else "the traceback could not be written"
        hint = namespace_hint(error, options.get("namespaces"))
        raise RunError(f"{one_line(error)}{hint} ({where}; --verbose or {VERBOSE_ENV}=1 shows it here)") from None


@click.group(name="ntk_linearity")
def cli() -> None:
    """Commands of the ntk-linearity project."""


VERBOSE = click.Option(["--verbose"], is_flag=True, default=False,
                       help=f"Show the traceback of an error on the console (also: {VERBOSE_ENV}=1).")
cli.add_command(click.Command(
    "run", params=[*kedro_run.params, VERBOSE], callback=_run,
    help=f"{kedro_run.help} Without --runner: {DEFAULT_RUNNER} (one run after the other). An error is one "
         f"line; its traceback is in {ERROR_LOG} (--verbose: on the console).",
))
