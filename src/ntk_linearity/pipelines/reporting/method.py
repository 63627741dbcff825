"""The report's Setup: every method sentence derived from what ran.

Data sizes and seeds come from the validated parameter groups, each sweep's grid, step size, snapshot
count and training settings from its expanded runs (:class:`~ntk_linearity.experiment.sweeps.RunSpec`),
and how ‖H‖ was computed from the ``hessian_method`` column of ``runs.csv`` (written by each run's
``analyse_hessian`` node: the numerics dispatcher's choice) with the Lanczos step count of the runs'
settings. Nothing here is hand-written about a particular sweep.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ntk_linearity.experiment.parameters import Experiment
from ntk_linearity.experiment.sweeps import ETA_LAMBDA0, LEARNING_RATE, SweepSpec
from ntk_linearity.experiment.vocabulary import axis_text
from ntk_linearity.pipelines.reporting.markdown import code, escape
from ntk_linearity.pipelines.reporting.statements.formatting import value_text

# How each value of runs.csv's hessian_method is said; "{steps}" is the runs' Lanczos step limit.
HESSIAN_METHODS = {
    "closed_form": "the closed form of Eq. 5 (Eq. 13 for a non-linear head), exact",
    "subspace_lanczos": "Lanczos on the layer subspace that holds the range of H, at most {steps} steps",
    "lanczos": "full Lanczos on all parameters with full re-orthogonalisation, at most {steps} steps",
}
NOT_RECORDED = "not recorded (runs made before runs.csv had a hessian_method column)"


def setting_text(value: Any) -> str:
    """A fixed setting as the Setup writes it: a value (integers as integers), a lookup by an axis,
    or a step size relative to the run's stability limit."""
    if isinstance(value, dict) and set(value) == {"by", "values"}:
        return f"by {escape(value['by'])}: " + ", ".join(f"{escape(k)} {setting_text(v)}"
                                                        for k, v in value["values"].items())
    if isinstance(value, dict) and "relative_to_critical" in value:
        return (f"{escape(value_text(value['relative_to_critical']))} × 2/λ_max(K(w₀)/n) "
                "(relative to the run's stability limit)")
    return escape(value_text(value))


def step_size_text(settings: dict, axes: dict) -> str:
    """How a sweep sets η: its learning rate, or η = ηλ₀ / λ_max(K(w₀)/n) from its ``eta_lambda0``."""
    if ETA_LAMBDA0 in axes or ETA_LAMBDA0 in settings:
        value = "the axis" if ETA_LAMBDA0 in axes else setting_text(settings[ETA_LAMBDA0])
        return f"ηλ₀ / λ_max(K(w₀)/n) with ηλ₀ = {value} (η λ₀ set directly, per run)"
    return "the axis" if LEARNING_RATE in axes else setting_text(settings.get(LEARNING_RATE, "n/a"))


def sweep_line(experiment: Experiment, sweep: SweepSpec) -> str:
    """One bullet of the Setup per sweep: family, runs, axes, fixed settings, step size, snapshots,
    its own training settings, fit axis and groups."""
    block = experiment.parameters.sweeps[sweep.name]
    axes = "; ".join(f"{escape(axis)} ∈ {{{', '.join(escape(value_text(v)) for v in values)}}}"
                     for axis, values in sweep.axes)
    fixed = ", ".join(f"{escape(k)} = {setting_text(v)}" for k, v in block.settings.items()
                      if k not in (LEARNING_RATE, ETA_LAMBDA0))
    overrides = ", ".join(f"{escape(k)} = {escape(value_text(v))}" for k, v in block.training.items())
    snapshots = sorted({run.training.n_snapshots for run in sweep.runs})
    return (f"  - {code(sweep.name)} ({escape(sweep.family)}, {len(sweep.runs)} runs): {axes}"
            + (f"; {fixed}" if fixed else "")
            + f"; learning rate η = {step_size_text(block.settings, dict(sweep.axes))}"
            + f"; {'/'.join(map(str, snapshots))} kernel snapshots per run"
            + (f"; training settings of this sweep: {overrides}" if overrides else "")
            + f"; slopes against {escape(axis_text(sweep.fit_against))}"
            + (f", one fit per {', '.join(escape(g) for g in sweep.group_by)}." if sweep.group_by else "."))


def hessian_methods(experiment: Experiment, runs: pd.DataFrame) -> list[tuple[str, tuple[str, ...]]]:
    """(how ‖H‖ was computed, the sweeps it was computed so in), from ``runs.csv``'s ``hessian_method``
    and each run's Lanczos step limit, in the order the sweeps are declared."""
    recorded = dict(zip(runs["namespace"], runs.get("hessian_method", pd.Series(index=runs.index, dtype=object))))
    methods: dict[str, list[str]] = {}
    for sweep in experiment.sweeps:
        for run in sweep.runs:
            method = recorded.get(run.namespace)
            text = (HESSIAN_METHODS[method].format(steps=run.hessian.lanczos_steps)
                    if isinstance(method, str) and method in HESSIAN_METHODS else NOT_RECORDED)
            names = methods.setdefault(text, [])
            if sweep.name not in names:
                names.append(sweep.name)
    return [(text, tuple(names)) for text, names in methods.items()]


def hessian_sentence(experiment: Experiment, runs: pd.DataFrame) -> str:
    """``‖H‖ at x = X[0]: the closed form of Eq. 5 ... (runs of width_sweep); Lanczos on ...``."""
    probe = experiment.parameters.hessian.probe_index
    parts = [f"{text} ({', '.join(code(name) for name in names)})"
             for text, names in hessian_methods(experiment, runs)]
    return (f"‖H‖ = max |λ(∂²f/∂w²)| at x = X[{probe}], at w₀ and at w_T, computed as each run recorded: "
            + "; ".join(parts) + (". " if parts else "no runs. ")
            + "K(x, x) = ‖∇f‖² from the tangent kernel's diagonal, averaged over the inputs.")


def _families(experiment: Experiment) -> set[str]:
    return {sweep.dataset for sweep in experiment.sweeps}


def data_bullet(experiment: Experiment) -> str:
    """The vector data of the fully connected sweeps (``""`` when none trains on it)."""
    if "synthetic_data" not in _families(experiment):
        return ""
    d = {key: escape(value_text(value)) for key, value in experiment.parameters.data.model_dump().items()}
    return (f"- **Data** (synthetic, seed {d['seed']}): n = {d['n_samples']} inputs drawn uniformly on the "
            f"sphere of radius √d in d = {d['input_dim']} dimensions, so every input has ‖x‖² = d and O(1) "
            f"coordinates. Regression targets y = A sin(ω⟨u, x⟩) for a random unit vector u, with "
            f"A = {d['target_amplitude']} (inside the range of swish, which is ≥ −0.278, so the swish head can "
            f"fit them) and ω = {d['target_frequency']}. The softmax head fits soft class labels "
            f"softmax(T·Ux/√d) over C = {d['n_classes']} classes with T = {d['class_temperature']}.\n")


ANTISYMMETRIC = (
    "**antisymmetric** (the \"doubling trick\"): every weight is drawn from N(0, 1), but the second half "
    "of the last hidden layer copies the first half and its readout weights are negated, so that "
    "f(w₀; x) = 0 for every input. Why: swish φ(z) = z·sigmoid(z) has a critical point at "
    "z ≈ −1.28 where φ′(z) = 0. With an i.i.d. initialisation the output at w₀ is a Θ(1) random "
    "number per sample, so some samples start on the wrong side of that point, where raising φ(z) "
    "towards the target means pushing z further down and the gradient vanishes near the critical "
    "point: gradient descent stalls on them (Theorem 5.1 assumes |φ′| ≥ ρ > 0 along the path). "
    "Starting every sample at z = 0, where φ′(0) = 1/2, avoids this. The same scheme is used for "
    "every head so that the architectures differ only in their output layer."
)


def setup_text(experiment: Experiment, runs: pd.DataFrame) -> str:
    """The Setup's bullets: data, images, networks and every sweep, initialisation, training,
    measurements (‖H‖ by the method each run recorded), fits."""
    from ntk_linearity.pipelines.reporting.statements.setup import image_data_statement  # noqa: PLC0415

    p = experiment.parameters
    model, training, reporting = p.model, p.training, p.reporting
    init = (ANTISYMMETRIC if model.init_scheme == "antisymmetric"
            else f"{code(model.init_scheme)}: every weight drawn independently from N(0, 1).")
    softmax_loss = ("the square loss on the probabilities (as in Theorem 5.1)" if training.softmax_loss == "square"
                    else f"the {code(training.softmax_loss)} loss")
    shapes = {sweep.name: {"family": sweep.family} for sweep in experiment.sweeps}
    snapshots = sorted({run.training.n_snapshots for run in experiment.runs})
    fit_axes = ", ".join(dict.fromkeys(escape(axis_text(sweep.fit_against)) for sweep in experiment.sweeps))
    lines = "\n".join(sweep_line(experiment, sweep) for sweep in experiment.sweeps)
    return (
        data_bullet(experiment)
        + image_data_statement(p.images.model_dump(), shapes)
        + f"- **Networks**: NTK parameterisation unless a sweep sets it (weights N(0, 1), each layer's "
        f"pre-activation divided by √fan-in; paper Eq. 4, 7, 9), {code(model.activation)} hidden activation, "
        f"no biases, readout layer trained: {escape(model.train_last_layer)}, {code(model.dtype)} arithmetic. "
        f"The sweeps ({len(experiment.runs)} configured networks; a run is one point of the product of its "
        f"sweep's axes):\n{lines}\n"
        f"- **Initialisation**: {init}\n"
        f"- **Training**: full-batch gradient descent on the mean square loss "
        f"L(w) = (1/2n) Σᵢ ‖f(w; xᵢ) − yᵢ‖² ({softmax_loss} for the softmax head); learning rates η per sweep "
        f"as listed above. A run stops when L(wₜ) ≤ {escape(value_text(training.tol))} or after "
        f"{training.max_steps} steps; a loss above {escape(value_text(training.divergence_factor))} × L(w₀) "
        f"counts as divergence ({code('on_divergence: ' + training.on_divergence)}), unless a sweep sets its own.\n"
        f"- **Measurements**: ΔK = supₜ ‖K(wₜ) − K(w₀)‖ / ‖K(w₀)‖ (Frobenius norms) over "
        f"{'/'.join(map(str, snapshots))} log-spaced snapshots of the n × n tangent kernel on the training "
        "inputs (n·C × n·C for the softmax head); its float32 noise floor by recomputing the final kernel "
        f"change in float64. {hessian_sentence(experiment, runs)}\n"
        f"- **Fits**: log–log slopes against each sweep's fit axis ({fit_axes}) with "
        f"{round(100 * reporting.confidence)}% intervals ({code(reporting.slope_ci_method)}), every seed a "
        "separate point.\n")
