from ntk_linearity.pipelines.model_init.pipeline import create_pipeline

__all__ = ["create_pipeline"]
