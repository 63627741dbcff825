"""The report's input tables for the tiny grid without training: every measured quantity is a power
law of the run's fit axis, so a report renders in seconds. Runs can be marked diverged as
``on_divergence: skip`` marks them, or left out; the fitted tables and Table 1 are then derived by
the pipeline's own functions, as the reporting pipeline would."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from ntk_linearity.pipelines import schema
from ntk_linearity.pipelines.reporting import tables
from ntk_linearity.experiment.parameters import Experiment, validate_parameters
from ntk_linearity.experiment.config import default_config_loader
from ntk_linearity.experiment.vocabulary import ARCHITECTURES
from ntk_linearity.numerics.infinite_width import not_derived_reason

from kedro_project_utils import TINY

STEPS = (0, 1, 3, 10, 30, 60)
KERNEL_DEVIATION_SCALE = 0.8  # ||K(w_0) - Theta|| / ||Theta|| = 0.8 m^(-1/2) (seed 0) where Theta is derived
DIVERGED_METRICS = ("delta_k", "delta_k_final_float64", "delta_k_noise_floor", "kernel_float32_rounding",
                    "weight_change_l2", "weight_change_linf", "initial_loss", "loss_peak_ratio",
                    "eta_lambda_max_final", "lambda_min_init", "lambda_min_path", "loss_rate",
                    "loss_rate_over_eta_lambda_min", *schema.LINEARISATION_COLUMNS, "kernel_deviation_init")


def _merged(base: dict, overrides: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        merged[key] = _merged(merged[key], value) if isinstance(value, dict) and key in merged else value
    return merged


def tiny_experiment() -> Experiment:
    """conf/base with the tiny grid of the test projects (30 runs in nine sweeps)."""
    return validate_parameters(_merged(default_config_loader()["parameters"], TINY))


def renamed(experiment: Experiment, sweep: str, name: str) -> Experiment:
    """``experiment`` with the sweep ``sweep`` (its runs, namespaces and parameter block) called
    ``name``, which validation would refuse: how a tampered configuration or results table names it."""
    sweeps = tuple(
        dataclasses.replace(s, name=name, runs=tuple(dataclasses.replace(run, sweep=name) for run in s.runs))
        if s.name == sweep else s for s in experiment.sweeps)
    blocks = {(name if key == sweep else key): block for key, block in experiment.parameters.sweeps.items()}
    return Experiment(experiment.parameters.model_copy(update={"sweeps": blocks}), sweeps)


def _run_row(run) -> dict[str, Any]:
    record = run.as_record()
    x = float(record[ARCHITECTURES[run.architecture].fit_axis])
    spread = 1 + 0.1 * run.seed
    delta_k = 0.5 * x**-0.5 * spread
    # eta lambda_0 as an eta_lambda0 axis sets it; above 2 a catapult: the loss peaks at ~x L_0 and
    # lambda_max falls below 2 / eta; the loss decays at twice eta lambda_min (its slowest mode)
    eta_lambda0 = 2 * getattr(run.learning_rate, "relative_to_critical", 0.5)
    lambda_min = 0.01 * spread
    # the linearisation measures fall like the Taylor bound's theory slope (-1/2 or 0, -1/2 without one)
    linear = x ** ARCHITECTURES[run.architecture].theory.get("linearisation_error", -0.5) * spread
    limit = not_derived_reason(run.family, run.model.model_dump()) or "derived"
    return record | {
        "hessian_method": hessian_method_of(run),
        "learning_rate": 1.0, "steps": 60, "max_steps": 60, "converged": True, "diverged": False,
        "initial_loss": 0.1, "final_loss": 1e-4, "delta_k": delta_k, "delta_k_final_float64": delta_k,
        "delta_k_noise_floor": 1e-7, "kernel_float32_rounding": 1e-7,
        "hessian_norm_init": x**-0.5 * spread, "hessian_norm_final": x**-0.5, "hessian_residual_init": 1e-9,
        "hessian_ratio_init": x**-0.5 * spread,
        "hessian_residual_final": 1e-9, "ntk_diag_init": spread, "ntk_diag_final": spread,
        "weight_change_l2": spread, "weight_change_linf": x**-0.5 * spread, "n_params": 100,
        "wall_seconds": 1.0, "hessian_wall_seconds": 0.5, "error": "", "lambda0": eta_lambda0,
        "eta_lambda0": eta_lambda0, "loss_peak_ratio": x if eta_lambda0 > 2 else 1.0,
        "eta_lambda_max_final": min(eta_lambda0, 1.8), "lambda_min_init": lambda_min, "lambda_min_path": lambda_min,
        "loss_rate": 2 * lambda_min, "loss_rate_over_eta_lambda_min": 2.0,
        "linearisation_error": 0.1 * linear, "linearised_gap": 0.05 * linear * eta_lambda0**2,
        "kernel_deviation_init": KERNEL_DEVIATION_SCALE * x**-0.5 * spread if limit == "derived" else np.nan,
        "kernel_limit": limit,
    }


def hessian_method_of(run) -> str:
    """The method the numerics dispatcher picks for the run's network (runs.csv: hessian_method)."""
    if run.family != "mlp":
        return "lanczos"
    return "closed_form" if run.model.depth == 1 else "subspace_lanczos"


def _curves(runs: pd.DataFrame) -> pd.DataFrame:
    """ΔK(t) rising to the run's ΔK and a loss falling to its final loss, at a few steps."""
    rows = []
    for run in runs[~runs["diverged"]].itertuples(index=False):
        keys = {key: getattr(run, key) for key in schema.CURVE_KEYS}
        rows += [keys | {"curve": "delta_k", "step": s, "value": run.delta_k * s / STEPS[-1]} for s in STEPS]
        rows += [keys | {"curve": "loss", "step": s, "value": 0.1 * 1e-3 ** (s / STEPS[-1])} for s in STEPS]
        rows += [keys | {"curve": "lambda_max", "step": s, "value": run.eta_lambda_max_final} for s in STEPS]
        rows += [keys | {"curve": "lambda_min", "step": s, "value": run.lambda_min_path} for s in STEPS]
    return pd.DataFrame(rows, columns=[*schema.CURVE_KEYS, "curve", "step", "value"])


def report_inputs(experiment: Experiment, diverged=(), missing=()) -> tuple[dict[str, pd.DataFrame], str]:
    """``(tables, table1)`` for :func:`report.report_html`: the runs of ``experiment`` whose
    namespace is in ``diverged`` marked diverged with NaN metrics and no curves (as
    ``on_divergence: skip`` leaves them), those in ``missing`` left out."""
    rows = [_run_row(run) for run in experiment.runs if run.namespace not in set(missing)]
    runs = schema.sort_runs(pd.DataFrame(rows, columns=schema.RUN_COLUMNS).reindex(columns=schema.RUN_COLUMNS))
    runs["diverged"] = runs["namespace"].isin(set(diverged))
    down = runs["diverged"]
    runs.loc[down, list(DIVERGED_METRICS)] = np.nan
    runs.loc[down, ["converged", "steps", "final_loss"]] = [False, 3, 1e12]
    runs.loc[down, "error"] = "gradient descent diverged at step 3 (loss 1e12)"
    reporting = experiment.parameters.reporting
    scaling = tables.concat_scaling(*(
        tables.sweep_scaling(runs[runs["sweep"] == sweep.name], sweep=sweep.name, fit_against=sweep.fit_against,
                             reporting_params=reporting)
        for sweep in experiment.sweeps
    ))
    table1_scaling = tables.scaling_table(runs, reporting_params=reporting)
    table1 = tables.table1_markdown(table1_scaling, scaling, runs, reporting_params=reporting)
    return {"runs": runs, "table1_scaling": table1_scaling, "scaling": scaling, "curves": _curves(runs)}, table1


def metadata(conf_env: str = "tiny") -> dict[str, Any]:
    """Run metadata as :func:`provenance.run_metadata` gives it, with fixed values."""
    return {"generated_at": "2026-01-01 00:00:00 UTC", "conf_env": conf_env,
            "git": {"commit": "0123456789abcdef", "dirty": False, "note": ""}, "python": "3.11",
            "platform": "Linux", "packages": {"jax": "0.4", "kedro": "1.7"},
            "jax": {"backend": "cpu", "devices": ["TFRT_CPU_0"]}}


def namespaces(experiment: Experiment, **where) -> list[str]:
    """The namespaces of the runs whose RunSpec attributes match ``where`` (``sweep="..."``,
    ``seed=1``)."""
    return [run.namespace for run in experiment.runs
            if all(getattr(run, key) == value for key, value in where.items())]

