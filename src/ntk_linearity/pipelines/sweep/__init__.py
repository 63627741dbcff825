from ntk_linearity.pipelines.sweep.pipeline import gather_pipeline, runs_pipeline

__all__ = ["gather_pipeline", "runs_pipeline"]
