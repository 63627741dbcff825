"""The project's runners (Kedro 1.x runner API).

* :class:`RunByRunRunner` (:mod:`~ntk_linearity.execution.runners.run_by_run`), the default of
  ``kedro run`` (:mod:`ntk_linearity.cli`): Kedro's SequentialRunner, one sweep run after the other.
* :class:`DaskRunner` (:mod:`~ntk_linearity.execution.runners.dask_runner`), on a dask.distributed
  cluster: one Dask task per sweep run. Its cluster comes from
  :mod:`~ntk_linearity.execution.runners.dask_cluster`, and its tasks run
  :func:`~ntk_linearity.execution.runners.dask_worker.run_group` on the workers.

Both group the nodes the same way (:mod:`~ntk_linearity.execution.runners.grouping`). Kedro's
``--runner`` takes the dotted paths ``ntk_linearity.execution.runners.RunByRunRunner`` and
``ntk_linearity.execution.runners.DaskRunner``.
"""

from ntk_linearity.execution.runners.dask_cluster import DaskRunnerError, load_dask_config, make_cluster
from ntk_linearity.execution.runners.dask_runner import DaskRunner
from ntk_linearity.execution.runners.run_by_run import RunByRunRunner

__all__ = ["DaskRunner", "DaskRunnerError", "RunByRunRunner", "load_dask_config", "make_cluster"]
