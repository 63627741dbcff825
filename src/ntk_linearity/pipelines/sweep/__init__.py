from ntk_linearity.pipelines.sweep.pipeline import runs_pipeline

__all__ = ["runs_pipeline"]
