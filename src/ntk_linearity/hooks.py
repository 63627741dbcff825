"""Project hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
from kedro.framework.hooks import hook_impl

from ntk_linearity.run_config import set_active_config_loader

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext


class ProjectHooks:
    """Hooks registered in ``settings.HOOKS``."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Record the run environment's config loader; switch JAX to 64 bits for float64 sweeps.

        ``KedroSession.run`` creates the context (firing this hook) before it
        first reads ``kedro.framework.project.pipelines``, so
        ``pipeline_registry.register_pipelines`` sees the loader of the active
        ``--env`` through ``ntk_linearity.run_config.active_parameters()``.
        """
        set_active_config_loader(context.config_loader)
        # The raw merged parameters: ``context.params`` would already build the pipelines.
        if context.config_loader["parameters"].get("model", {}).get("dtype") == "float64":
            jax.config.update("jax_enable_x64", True)  # `model.dtype: float64` sweeps
