"""Project settings for ntk-linearity.

See https://docs.kedro.org/en/stable/configure/configuration_basics/ for the
settings Kedro reads from this module and their defaults.
"""

from ntk_linearity.provenance.catalog import LedgerCatalog
from ntk_linearity.hooks import ProjectHooks
from ntk_linearity.execution.progress import ProgressHooks
from ntk_linearity.experiment.config import RecordingConfigLoader

# Instantiated project hooks (executed in Last-In-First-Out order).
HOOKS = (ProjectHooks(), ProgressHooks())

# Installed plugins for which to disable hook auto-registration.
# DISABLE_HOOKS_FOR_PLUGINS = ("kedro-viz",)

# Directory that holds configuration.
# CONF_SOURCE = "conf"

# An ``OmegaConfigLoader`` that also records itself in ``ntk_linearity.experiment.config``
# when it is constructed, so ``register_pipelines()`` can read the sweep grids of
# the run environment (``--env paper``) even where project hooks do not fire
# (``kedro viz run`` replaces the hook manager with a no-op one by default).
CONFIG_LOADER_CLASS = RecordingConfigLoader

# A DataCatalog that can count untrusted results on disk as missing (ntk_linearity.provenance.resume), so
# `kedro run --only-missing-outputs` recomputes a run that was never committed.
DATA_CATALOG_CLASS = LedgerCatalog

# Keyword arguments to pass to the `CONFIG_LOADER_CLASS` constructor.
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment (paper, local) overrides single keys, e.g. only `sweeps.width_sweep.widths`.
    "merge_strategy": {"parameters": "soft"},
    # conf/<env>/dask.yml: the cluster of ntk_linearity.execution.runners.DaskRunner (docs/dask.md).
    "config_patterns": {"dask": ["dask*", "dask*/**"]},
}
