from ntk_linearity.pipelines.data_generation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
