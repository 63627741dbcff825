"""Progress events: how they travel from wherever a node runs to the tracker of the session.

Node hooks and the training loop (``train_network`` calls :func:`publish_step` at every progress
checkpoint) :func:`publish` small dict events. In the process that runs the session
(SequentialRunner, ThreadRunner, a Dask ``LocalCluster(processes=False)``) they go straight to the
active tracker (:class:`ActiveProgress`, set by the hooks for the pipeline run being followed). In a
Dask worker process they are sent to the driver with ``distributed.get_worker().log_event``
(non-blocking, batched with the worker's other messages to the scheduler); the DaskRunner subscribes
to the topic for the duration of the run (:func:`forward_progress`), so this works on a LocalCluster
and on remote clusters alike. Anywhere else (no session, Kedro's ParallelRunner subprocesses) events
are dropped; publishing never raises.

While a live display runs, worker processes send their log records to the driver too
(:func:`route_worker_logs`), which prints them above the display.
"""

from __future__ import annotations

import logging
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ntk_linearity.execution.progress.display import LogDisplay, RichDisplay
    from ntk_linearity.execution.progress.tracker import RunTracker

PROGRESS_TOPIC = "ntk-linearity-progress"  # distributed event topic of the workers' progress events
LOG_TOPIC = "ntk-linearity-logs"  # ... and of their log records, while a live display runs

logger = logging.getLogger(__package__)


class ActiveProgress:
    """The tracker and display of the pipeline run being followed; events after ``close`` are dropped."""

    def __init__(self, tracker: RunTracker, display: LogDisplay | RichDisplay):
        self.tracker = tracker
        self.live = display.live
        self._display = display
        self._lock = threading.Lock()
        self._open = True

    def receive(self, event: Mapping[str, Any]) -> None:
        with self._lock:
            if self._open:
                self.tracker.handle(event)
                self._display.on_event()

    def close(self, succeeded: bool) -> None:
        with self._lock:
            if not self._open:
                return
            self._open = False
            if succeeded:
                self.tracker.finish()
            self._display.close(self.tracker.snapshot(), succeeded)


_active: ActiveProgress | None = None  # the pipeline run being followed, in the session's process
_context = threading.local()  # run_id of the node running in this thread (for the Dask topic)
_PROCESS = uuid.uuid4().hex  # this process, as route_worker_logs tells the driver's from a worker's


def activate(active: ActiveProgress) -> None:
    """Send this process's events to ``active`` from now on."""
    global _active  # noqa: PLW0603
    _active = active


def active_progress() -> ActiveProgress | None:
    """The pipeline run being followed in this process, if any."""
    return _active


def close_active(succeeded: bool) -> None:
    """Stop following the pipeline run being followed (if any): its display shows the last state."""
    global _active  # noqa: PLW0603
    active, _active = _active, None
    if active is not None:
        active.close(succeeded)


def set_run_id(run_id: str | None) -> None:
    """The session of the node starting in this thread: a worker's events carry it to the driver."""
    _context.run_id = run_id


def publish(event: dict[str, Any]) -> None:
    """Hand ``event`` (a dict of plain values) to the progress display; never raises, never blocks.

    In the session's process it goes to the active tracker; in a Dask worker to the driver (a worker
    event on :data:`PROGRESS_TOPIC`); elsewhere nowhere."""
    active = _active
    try:
        if active is not None:
            active.receive(event)
        elif "distributed" in sys.modules:  # a Dask worker process has imported it
            _to_dask_driver({**event, "run_id": getattr(_context, "run_id", None)})
    except Exception:  # noqa: BLE001 (progress must never stop a run)
        logger.debug("progress: event %s dropped", event, exc_info=True)


def publish_step(run: str, step: int, total: int, loss: float) -> None:
    """Training of ``run`` reached ``step`` of ``total`` with ``loss``."""
    publish({"event": "step", "run": run, "step": int(step), "total": int(total), "loss": float(loss)})


def _to_dask_driver(event: dict[str, Any]) -> None:
    from distributed import get_worker  # noqa: PLC0415

    try:
        worker = get_worker()
    except ValueError:  # not in a Dask task
        return
    worker.log_event(PROGRESS_TOPIC, event)


@contextmanager
def forward_progress(client: Any, run_id: str | None) -> Iterator[str | None]:
    """While the DaskRunner runs: pass the workers' progress events of session ``run_id`` to the active
    tracker and tell it the cluster's parallelism (its worker threads). With a live display, also
    re-emit the workers' log records here, through this process's logging, and yield this process's
    token for :func:`route_worker_logs` (worker processes that share the terminal would otherwise
    write across the display); else yield None. Does nothing without an active tracker."""
    active = _active
    if active is None:
        yield None
        return

    def on_progress(event: tuple[float, dict]) -> None:
        message = event[1]
        if isinstance(message, dict) and message.get("run_id") == run_id:
            active.receive(message)

    def on_log(event: tuple[float, dict]) -> None:
        message = event[1]
        if isinstance(message, dict) and message.pop("run_id", None) == run_id:
            record = logging.makeLogRecord(message)
            logging.getLogger(record.name).handle(record)

    topics = {PROGRESS_TOPIC: on_progress} | ({LOG_TOPIC: on_log} if active.live else {})
    try:
        active.tracker.set_parallelism(sum(client.nthreads().values()))
        for topic, handler in topics.items():
            client.subscribe_topic(topic, handler)
    except Exception:  # noqa: BLE001
        logger.warning("progress: cannot subscribe to the Dask workers' progress events", exc_info=True)
        yield None
        return
    try:
        yield _PROCESS if active.live else None
    finally:
        for topic in topics:
            try:
                client.unsubscribe_topic(topic)
            except Exception:  # noqa: BLE001
                logger.debug("progress: unsubscribing from %s failed", topic, exc_info=True)


class _ToDriver(logging.Handler):
    """In a Dask worker process: sends each log record to the driver as a worker event."""

    def __init__(self, worker: Any, run_id: str | None):
        super().__init__()
        self.worker, self.run_id = worker, run_id

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            self.worker.log_event(LOG_TOPIC, {
                "run_id": self.run_id, "name": record.name, "levelno": record.levelno,
                "levelname": record.levelname, "msg": message, "pathname": record.pathname,
                "filename": record.filename, "module": record.module, "lineno": record.lineno,
                "funcName": record.funcName, "created": record.created, "msecs": record.msecs})
        except Exception:  # noqa: BLE001 (a log line must never stop a run)
            pass


_local_handlers: list[logging.Handler] | None = None  # a worker's own root handlers while routed


def route_worker_logs(driver: str | None, run_id: str | None) -> None:
    """In a Dask task: with ``driver`` (the token :func:`forward_progress` yielded) and outside the
    driver's process, replace this worker process's root log handlers by one that sends the records to
    the driver; with None, put the worker's own handlers back."""
    global _local_handlers  # noqa: PLW0603
    root = logging.getLogger()
    routed = [handler for handler in root.handlers if isinstance(handler, _ToDriver)]
    if driver is None or driver == _PROCESS:
        if _local_handlers is not None:
            for handler in routed:
                root.removeHandler(handler)
            for handler in _local_handlers:
                root.addHandler(handler)
            _local_handlers = None
        return
    if routed and routed[0].run_id == run_id:
        return
    from distributed import get_worker  # noqa: PLC0415

    worker = get_worker()
    if _local_handlers is None:
        _local_handlers = [handler for handler in root.handlers if not isinstance(handler, _ToDriver)]
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    root.addHandler(_ToDriver(worker, run_id))
