"""Project commands (Kedro loads ``<package>.cli`` and lets its commands override its own).

``kedro run`` is Kedro's ``run`` with one change: without ``--runner`` it uses
:class:`ntk_linearity.execution.runners.RunByRunRunner`, which finishes the runs of a sweep one at a time, so an
interrupted ``kedro run`` loses at most the run in progress. ``--runner SequentialRunner`` gives Kedro's
layer-by-layer order; every other option is Kedro's.
"""

from __future__ import annotations

import click
from kedro.framework.cli.project import run as kedro_run

DEFAULT_RUNNER = "ntk_linearity.execution.runners.RunByRunRunner"


def _run(runner: str | None, **options):
    return kedro_run.callback(runner=runner or DEFAULT_RUNNER, **options)


@click.group(name="ntk_linearity")
def cli() -> None:
    """Commands of the ntk-linearity project."""


cli.add_command(click.Command(
    "run", params=kedro_run.params, callback=_run,
    help=f"{kedro_run.help} Without --runner: {DEFAULT_RUNNER} (one run after the other).",
))
