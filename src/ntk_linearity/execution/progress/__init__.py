"""Progress you can watch: runs done / total, the runs in progress (step, loss) and the time left.

:class:`ProgressHooks` (in ``settings.HOOKS``) follows every pipeline run that contains sweep runs
(namespaces ``<sweep>.<group>.<run>``). Its parts, each documented in its module:

* :mod:`~ntk_linearity.execution.progress.events`: the events (a run's node started, finished or
  failed; a training step) and how they reach the session's process: directly in that process, as
  distributed worker events from a Dask worker (:func:`forward_progress` on the driver), nowhere
  elsewhere; and, while a live display runs, the Dask workers' log records (:func:`route_worker_logs`).
  The training loop publishes its steps with :func:`publish_step`.
* :mod:`~ntk_linearity.execution.progress.tracker`: what is counted (the runs that will run, and their
  nodes), what is running, and the time left.
* :mod:`~ntk_linearity.execution.progress.display`: INFO lines on the logger
  ``ntk_linearity.execution.progress`` every ``interval`` seconds, or a rich ``Live`` display when the
  console of Kedro's rich logging handler is an interactive terminal.
* :mod:`~ntk_linearity.execution.progress.hooks`: the Kedro hooks that tie them to a pipeline run.

Settings: ``$NTK_PROGRESS`` (``auto``, the default; ``rich``; ``log``; ``off``) and
``$NTK_PROGRESS_INTERVAL`` (seconds between log lines, default 30) override the hook's arguments.
"""

from ntk_linearity.execution.progress.events import forward_progress, publish, publish_step, route_worker_logs
from ntk_linearity.execution.progress.hooks import ProgressHooks
from ntk_linearity.execution.progress.tracker import run_namespace

__all__ = ["ProgressHooks", "forward_progress", "publish", "publish_step", "route_worker_logs", "run_namespace"]
