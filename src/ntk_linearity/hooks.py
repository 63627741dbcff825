"""Project hooks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl

from ntk_linearity.provenance.catalog import LedgerCatalog
from ntk_linearity.execution.compilation_cache import enable_compilation_cache
from ntk_linearity.datasets.atomic import remove_stale_temporaries
from ntk_linearity.experiment.parameters import session_experiment
from ntk_linearity.pipelines.data_generation.nodes import data_shapes
from ntk_linearity.provenance.resources import check_resources
from ntk_linearity.provenance.resume import log_plan, plan_resume
from ntk_linearity.experiment.config import set_active_config_loader

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.pipeline import Pipeline

logger = logging.getLogger(__name__)


class ProjectHooks:
    """Hooks registered in ``settings.HOOKS``."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Record the run environment's config loader and switch on JAX's compilation cache
        (:mod:`ntk_linearity.execution.compilation_cache`).

        ``KedroSession.run`` creates the context (firing this hook) before it
        first reads ``kedro.framework.project.pipelines``, so
        ``pipeline_registry.register_pipelines`` sees the loader of the active
        ``--env`` through ``ntk_linearity.experiment.config.active_parameters()``.
        """
        set_active_config_loader(context.config_loader)
        enable_compilation_cache(context.project_path)
        self._context = context

    def _data_root(self) -> Path:
        """Where this environment writes (``globals.yml``: ``data_root``), as an absolute path."""
        data_root = Path(self._context.config_loader["globals"].get("data_root", "data"))
        return data_root if data_root.is_absolute() else self._context.project_path / data_root

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any) -> None:
        """Before any node: refuse a run that cannot fit in memory
        (:func:`ntk_linearity.provenance.resources.check_resources`, from the data's settings: no
        data is generated), and decide which results on disk the
        run may trust (:func:`ntk_linearity.provenance.resume.plan_resume`); results it reads but cannot trust
        stop it here. With ``--only-missing-outputs`` the untrusted ones count as missing."""
        experiment = session_experiment()
        remove_stale_temporaries(self._data_root())
        nodes = {node.name for node in pipeline.nodes}
        trained = [run for run in experiment.runs if f"{run.node_namespace}.train_network" in nodes]
        for dataset in dict.fromkeys(run.dataset for run in trained):
            check_resources([run for run in trained if run.dataset == dataset],
                            data_shapes(dataset, experiment.parameters))
        only_missing = bool(run_params.get("only_missing_outputs"))
        plan = plan_resume(experiment, pipeline, catalog, only_missing)
        if not only_missing:
            return
        log_plan(plan)
        if isinstance(catalog, LedgerCatalog):
            catalog.mark_missing(plan.missing)
        elif plan.missing:
            logger.warning("%d results on disk are not trusted, but the %s cannot skip them: run with "
                           "the default or the Dask runner", len(plan.missing), type(catalog).__name__)
