"""The Kedro hooks: :class:`ProgressHooks` follows every pipeline run that contains sweep runs.

In the session's process, ``before_pipeline_run`` counts the runs that will run
(:mod:`~ntk_linearity.execution.progress.tracker`), picks a display
(:mod:`~ntk_linearity.execution.progress.display`) and makes them the target of this process's events
(:mod:`~ntk_linearity.execution.progress.events`); ``after_pipeline_run`` and ``on_pipeline_error``
show the last state and stop the display. The node hooks run wherever nodes run (the session's
process, or a Dask worker) and publish a run's node starting, finishing or raising.

Settings: ``$NTK_PROGRESS`` (``auto``, the default; ``rich``; ``log``; ``off``) and
``$NTK_PROGRESS_INTERVAL`` (seconds between log lines, default 30) override the hook's arguments.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl

from ntk_linearity.execution.progress.display import LogDisplay, RichDisplay, is_interactive, logging_console
from ntk_linearity.execution.progress.events import ActiveProgress, activate, close_active, publish, set_run_id
from ntk_linearity.execution.progress.tracker import RunTracker, nodes_to_run, run_namespace, runs_of

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

ENV_MODE = "NTK_PROGRESS"
ENV_INTERVAL = "NTK_PROGRESS_INTERVAL"
MODES = ("auto", "rich", "log", "off")
DEFAULT_INTERVAL = 30.0  # seconds between two progress log lines


def _mode(default: str) -> str:
    mode = os.environ.get(ENV_MODE, default).strip().lower()
    if mode not in MODES:
        raise ValueError(f"${ENV_MODE} must be one of {', '.join(MODES)}; got {mode!r}")
    return mode


def _interval(default: float) -> float:
    raw = os.environ.get(ENV_INTERVAL)
    try:
        value = float(raw) if raw is not None else default
    except ValueError:
        value = math.nan
    if not value > 0:
        raise ValueError(f"${ENV_INTERVAL} must be a positive number of seconds; got {raw!r}")
    return value


class ProgressHooks:
    """Shows the progress of the sweep runs of every pipeline run (:mod:`ntk_linearity.execution.progress`).

    Args:
        mode: ``auto`` (a live display on a terminal, log lines otherwise), ``rich``, ``log`` or ``off``;
            ``$NTK_PROGRESS`` overrides it.
        interval: seconds between two progress log lines; ``$NTK_PROGRESS_INTERVAL`` overrides it.
    """

    def __init__(self, mode: str = "auto", interval: float = DEFAULT_INTERVAL):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds; got {interval!r}")
        self._mode = mode
        self._interval = interval

    # -- the session's process: one pipeline run --------------------------------------------------

    @hook_impl(trylast=True)  # after the hooks that change the catalog (ProjectHooks marks results missing)
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline,
                            catalog: CatalogProtocol) -> None:
        """Count the runs that will run and start the display (none without runs, or when off)."""
        close_active(succeeded=False)  # a display left over by an interrupted run (Ctrl-C fires no hook)
        mode = _mode(self._mode)
        if mode == "off":
            return
        runs = runs_of(nodes_to_run(pipeline, catalog, bool(run_params.get("only_missing_outputs"))))
        if not runs:
            return
        interval, console = _interval(self._interval), logging_console()
        if mode == "rich" or (mode == "auto" and is_interactive(console)):
            display: LogDisplay | RichDisplay = RichDisplay(console)
        else:
            display = LogDisplay(interval)
        tracker = RunTracker(runs)
        display.start(tracker.snapshot)
        activate(ActiveProgress(tracker, display))

    @hook_impl(tryfirst=True)
    def after_pipeline_run(self) -> None:
        """Every run is done: show the last state and stop the display."""
        close_active(succeeded=True)

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self) -> None:
        """Show where the sweep stopped and stop the display."""
        close_active(succeeded=False)

    # -- wherever nodes run (the session's process, or a Dask worker) ----------------------------

    @hook_impl
    def before_node_run(self, node: Node, run_id: str) -> None:
        """A run's node starts."""
        set_run_id(run_id)
        self._publish_node("node_started", node)

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        """A run's node finished."""
        self._publish_node("node_finished", node)

    @hook_impl
    def on_node_error(self, node: Node) -> None:
        """A run's node raised."""
        self._publish_node("node_failed", node)

    @staticmethod
    def _publish_node(event: str, node: Node) -> None:
        namespace = run_namespace(node)
        if namespace is not None:
            publish({"event": event, "run": namespace, "node": node.name})
