"""Execution: how the runs are scheduled and watched.

``runners`` (run by run, Dask), ``progress`` (events, tracker, display and hooks) and
``compilation_cache`` (JAX's persistent cache). Imports ``experiment.config`` only; the pipelines
publish progress events through it.
"""
