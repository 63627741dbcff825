"""Project hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kedro.framework.hooks import hook_impl

from ntk_linearity.run_config import set_active_config_loader

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext


class ProjectHooks:
    """Hooks registered in ``settings.HOOKS``."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Record the run environment's config loader.

        ``KedroSession.run`` creates the context (firing this hook) before it
        first reads ``kedro.framework.project.pipelines``, so
        ``pipeline_registry.register_pipelines`` sees the loader of the active
        ``--env`` through ``ntk_linearity.run_config.active_parameters()``.
        """
        set_active_config_loader(context.config_loader)
