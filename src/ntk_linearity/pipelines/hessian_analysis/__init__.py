from ntk_linearity.pipelines.hessian_analysis.pipeline import create_pipeline

__all__ = ["create_pipeline"]
