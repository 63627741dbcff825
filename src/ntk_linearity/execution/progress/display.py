"""The displays: progress log lines, or a rich ``Live`` display on an interactive terminal.

When the console of Kedro's rich logging handler is an interactive terminal (:func:`is_interactive`):
a rich ``Live`` display on that same console (log lines scroll above it) (:class:`RichDisplay`): a bar
of the runs' nodes done with runs done / total and the time elapsed and left, and one line per run
with a node running (that node, and its training step / total and loss while it trains). Otherwise
(CI, Airflow, pipes, pytest, notebooks): plain INFO lines on the logger
``ntk_linearity.execution.progress``, one every ``interval`` seconds (from a background thread, so
long nodes get lines too), and a last one when the pipeline ends (:class:`LogDisplay`). Both displays
read the tracker when they draw; events only update it. The display stops on ``after_pipeline_run``
and ``on_pipeline_error``; Ctrl-C fires neither hook, so an ``atexit`` handler stops a live display
still running.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from ntk_linearity.execution.progress.tracker import ProgressState, RunProgress

LISTED_RUNS = 3  # runs in progress named in a log line; the others are counted
REFRESH_PER_SECOND = 2
BAR_WIDTH = 30

logger = logging.getLogger(__package__)  # the progress lines' logger: ntk_linearity.execution.progress


def format_duration(seconds: float) -> str:
    """``42 s``, ``4 min 05 s`` (under 10 min), ``12 min``, ``1 h 05 min`` (rounded to the unit shown)."""
    seconds = round(max(seconds, 0.0))
    if seconds < 60:  # noqa: PLR2004
        return f"{seconds} s"
    if seconds < 600:  # noqa: PLR2004
        return f"{seconds // 60} min {seconds % 60:02d} s"
    minutes = round(seconds / 60)
    if minutes < 60:  # noqa: PLR2004
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def describe_run(run: RunProgress) -> str:
    """``train_network step 300/10000, loss 1.20e-03`` while training, else the node running."""
    if run.step is None:
        return run.node
    return f"{run.node} step {run.step}/{run.total}, loss {run.loss:.2e}"


def describe_counts(state: ProgressState) -> str:
    """``runs 12/105 done, 1 failed (50/420 nodes)``."""
    failed = f", {state.failed} failed" if state.failed else ""
    return f"runs {state.done}/{state.total} done{failed} ({state.nodes_done}/{state.nodes_total} nodes)"


def describe_time_left(state: ProgressState) -> str:
    """``about 4 min left``, ``at least 4 min left``, or unknown."""
    if state.done + state.failed == state.total:
        return "all runs ended"
    if state.time_left is None:
        return "time left unknown"
    return f"{'at least' if state.at_least else 'about'} {format_duration(state.time_left)} left"


def format_line(state: ProgressState) -> str:
    """One log line: ``runs 12/105 done (50/420 nodes) after 3 min 10 s; running <run> (train_network
    step 300/10000, loss 1.20e-03); about 4 min left``."""
    parts = [f"{describe_counts(state)} after {format_duration(state.elapsed)}"]
    if state.running:
        listed = ", ".join(f"{run.name} ({describe_run(run)})" for run in state.running[:LISTED_RUNS])
        more = len(state.running) - LISTED_RUNS
        parts.append(f"running {listed}" + (f" and {more} more" if more > 0 else ""))
    parts.append(describe_time_left(state))
    return "; ".join(parts)


def format_final_line(state: ProgressState, succeeded: bool) -> str:
    """The last line of a pipeline run."""
    if succeeded:
        return f"{describe_counts(state)} in {format_duration(state.elapsed)}"
    return f"stopped after {format_duration(state.elapsed)}: {describe_counts(state)}"


class LogDisplay:
    """Progress as INFO log lines: one every ``interval`` seconds from a background thread (at most one
    per ``interval`` of ``clock``) until every run has ended, and a last one when the pipeline ends."""

    live = False  # the workers' log records stay where they are

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic,
                 log: logging.Logger = logger):
        self._interval = interval
        self._clock = clock
        self._log = log
        self._last: float | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, get_state: Callable[[], ProgressState]) -> None:
        state = get_state()
        self._log.info("progress: %d run%s (%d nodes) to run; a progress line every %s", state.total,
                       "" if state.total == 1 else "s", state.nodes_total, format_duration(self._interval))
        self._last = self._clock()
        self._thread = threading.Thread(target=self._heartbeat, args=(get_state,), daemon=True,
                                        name="ntk-linearity-progress")
        self._thread.start()

    def on_event(self) -> None:
        """Nothing to do: lines come from the background thread."""

    def update(self, get_state: Callable[[], ProgressState]) -> None:
        """Log a line unless one was logged less than ``interval`` seconds ago."""
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return
        self._last = now
        state = get_state()
        self._log.info("progress: %s", format_line(state))
        if state.done + state.failed == state.total:
            self._stopped.set()  # nothing more to report until the last line

    def close(self, state: ProgressState, succeeded: bool) -> None:
        self._stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._log.info("progress: %s", format_final_line(state, succeeded))

    def _heartbeat(self, get_state: Callable[[], ProgressState]) -> None:
        while not self._stopped.wait(self._interval):
            self.update(get_state)


def render(state: ProgressState) -> RenderableType:
    """The live display: a bar of the runs' nodes done, with runs done / total and the time elapsed and
    left, then one line per run with a node running (its training step bar and loss while it trains)."""
    from rich.progress_bar import ProgressBar  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table.grid(padding=(0, 1))
    for _ in range(4):
        table.add_column(no_wrap=True)
    table.add_row("[bold]Sweep runs[/]",
                  ProgressBar(total=max(state.nodes_total, 1), completed=state.nodes_done, width=BAR_WIDTH),
                  describe_counts(state), f"{format_duration(state.elapsed)} elapsed, {describe_time_left(state)}")
    for run in state.running:
        if run.step is None:
            table.add_row(f"  {run.name}", ProgressBar(total=None, width=BAR_WIDTH), run.node, "")
        else:
            table.add_row(f"  {run.name}", ProgressBar(total=run.total, completed=run.step, width=BAR_WIDTH),
                          f"{run.node} step {run.step}/{run.total}", f"loss {run.loss:.2e}")
    return table


class RichDisplay:
    """A rich ``Live`` display of :func:`render` on ``console`` (the logging handler's), refreshed
    from ``get_state`` a few times a second. It appears with the first event of a run (a Dask
    cluster's start-up lines, and the nodes before the runs, print before it)."""

    live = True  # it redraws the terminal: the Dask workers' log records are printed here, above it

    def __init__(self, console: Console):
        self._console = console
        self._get_state: Callable[[], ProgressState] | None = None
        self._live = None

    def start(self, get_state: Callable[[], ProgressState]) -> None:
        self._get_state = get_state

    def on_event(self) -> None:
        """Show the display if it is not shown yet."""
        if self._live is not None or self._get_state is None:
            return
        from rich.live import Live  # noqa: PLC0415

        get_state = self._get_state
        self._live = Live(get_renderable=lambda: render(get_state()), console=self._console,
                          refresh_per_second=REFRESH_PER_SECOND, transient=False,
                          redirect_stdout=True, redirect_stderr=True)
        self._live.start()
        atexit.register(self._stop)  # Ctrl-C fires no pipeline hook

    def close(self, state: ProgressState, succeeded: bool) -> None:  # noqa: ARG002
        self._get_state = None
        self._stop()
        atexit.unregister(self._stop)

    def _stop(self) -> None:
        if self._live is not None:
            self._live.stop()  # draws the last state
            self._live = None


def logging_console() -> Console:
    """The console of the rich handler on the root logger (Kedro's default logging), else rich's."""
    import rich  # noqa: PLC0415
    from rich.logging import RichHandler  # noqa: PLC0415

    for handler in logging.getLogger().handlers:
        if isinstance(handler, RichHandler):
            return handler.console
    return rich.get_console()


def is_interactive(console: Console) -> bool:
    """A terminal that can redraw a live display (not a pipe, a dumb terminal or a notebook)."""
    return console.is_terminal and not console.is_dumb_terminal and not console.is_jupyter
