from ntk_linearity.pipelines.reporting.gather import gather_pipeline
from ntk_linearity.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline", "gather_pipeline"]
