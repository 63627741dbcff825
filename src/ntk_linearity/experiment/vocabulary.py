"""The project's vocabulary, defined once: sweep axes, architectures and measured quantities.

Everything that names, labels, colours or predicts reads this module: the parameter validation
(which axes exist and how a namespace spells them), the tables (which quantities are fitted, the
paper's Table 1 rows and theory slopes), the figures (labels and colours) and the report. Adding a
head or an architecture means adding an entry here; adding a model family means adding an entry to
:mod:`ntk_linearity.experiment.families`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

# ---------------------------------------------------------------------------------------------
# Axes: the settings a sweep may vary
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """A setting a sweep may vary.

    ``token`` prefixes the value in run names (``m`` + 1000 -> ``m1000``; an empty token writes the
    value alone: ``linear``); ``label`` is how figures and the report write it.
    """

    name: str
    token: str
    label: str
    description: str


AXES: Mapping[str, Axis] = {
    axis.name: axis
    for axis in (
        Axis("head", "", "output head", "output head phi (Eq. 11): linear, swish, softmax, ..."),
        Axis("width", "m", "width m", "width m of the wide hidden layers"),
        Axis("bottleneck_width", "mb", "bottleneck width $m_b$", "width m_b of the middle (bottleneck) hidden layer"),
        Axis("depth", "L", "depth L (hidden layers)", "number of hidden (fully connected or convolutional) layers"),
        Axis("channels", "C", "channels C", "channels C of the wide convolutional layers (their width)"),
        Axis("bottleneck_channels", "Cb", "bottleneck channels $C_b$",
             "channels C_b of the middle (bottleneck) convolutional layer"),
        Axis("blocks", "B", "residual blocks B", "residual blocks per ResNet stage"),
        Axis("stages", "S", "ResNet stages", "ResNet stages (each after the first halves the resolution)"),
        Axis("kernel_size", "k", "kernel size k", "side k of the k x k convolution windows"),
        Axis("pooling", "", "pooling", "pooling of the last feature map: global_average or flatten"),
        Axis("activation", "", "activation", "hidden activation sigma (Eq. 9)"),
        Axis("init_scheme", "", "initialisation", "initialisation: iid or antisymmetric"),
        Axis("parameterization", "", "parameterisation",
             "ntk: weights N(0, 1), 1/sqrt(fan_in) in the forward pass; standard: weights N(0, 1/fan_in), none"),
        Axis("output_scale", "a", "output scale α",
             "alpha of the lazy-training model alpha (f - f(w_0)), loss divided by alpha^2 (Appendix A)"),
        Axis("seed", "s", "seed", "PRNG seed of the initial weights w_0"),
        Axis("learning_rate", "lr", "learning rate $\\eta$", "gradient-descent step size eta (a number)"),
        Axis("eta_lambda0", "el", r"$\eta\lambda_0$",
             "step size as eta * lambda_max(K(w_0)/n), eta set per run at w_0 (the linearised square loss "
             "is stable below 2)"),
    )
}
SEED_AXIS = "seed"


_TEX_TEXT = {"$m_b$": "m_b", "$C_b$": "C_b", "$\\eta$": "η", "$\\eta\\lambda_0$": "ηλ₀"}


def axis_text(axis: str) -> str:
    """An axis as the report's text and tables write it (its label without TeX): ``"width m"``,
    ``"bottleneck width m_b"``, ``"ηλ₀"``."""
    label = AXES[axis].label
    for tex, text in _TEX_TEXT.items():
        label = label.replace(tex, text)
    return label


def axis_token(axis: str, value) -> str:
    """How ``axis = value`` is spelt in a run name: ``m1000``, ``linear``, ``lr0p5``.

    Namespaces are split on dots, so a dot in a value becomes ``p`` and a minus sign ``n``.
    """
    text = repr(value) if isinstance(value, float) else str(value)
    return AXES[axis].token + text.replace(".", "p").replace("-", "n").replace("+", "")


# ---------------------------------------------------------------------------------------------
# Quantities: what every run measures, and which of it is fitted against the sweep axis
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    """A per-run measurement: its column in ``runs.csv``, how figures label it (``label``, TeX) and how
    the report's text and tables write it (``text``, plain Unicode)."""

    name: str
    column: str
    label: str
    text: str = ""


QUANTITIES: Mapping[str, Quantity] = {
    q.name: q
    for q in (
        Quantity("hessian_norm", "hessian_norm_init", r"$\|H\|$ at $w_0$", "‖H‖ at w₀"),
        Quantity("ntk_diag", "ntk_diag_init", r"$K(x,x)=\|\nabla_w f\|^2$", "K(x, x)"),
        Quantity("delta_k", "delta_k", r"$\Delta K$", "ΔK"),
        Quantity("weight_change_l2", "weight_change_l2", r"$\|w^* - w_0\|_2$", "‖w* − w₀‖₂"),
        Quantity("weight_change_linf", "weight_change_linf", r"$\|w^* - w_0\|_\infty$", "‖w* − w₀‖∞"),
        Quantity("hessian_norm_final", "hessian_norm_final", r"$\|H\|$ at $w_T$", "‖H‖ at w_T"),
        Quantity("lambda_min", "lambda_min_path", r"$\min_t \lambda_{\min}(K_t/n)$", "min_t λ_min(K_t/n)"),
        Quantity("loss_peak_ratio", "loss_peak_ratio", r"$\max_t L_t / L_0$", "max_t L_t/L₀"),
        # The ball analysis of Proposition 2.2 (runs where a sweep's `ball:` block switches it on)
        Quantity("path_hessian_sup", "path_hessian_sup", r"$\sup \|H\|$ on the path $w_0 \to w^*$", "sup ‖H‖ on the path w₀ → w*"),
        # ||H(w_0; x)|| / K(w_0; x, x) at the probe input: invariant under rescaling the model or its
        # parameters by a common factor (the paper's Appendix B: both scale alike)
        Quantity("hessian_ratio", "hessian_ratio_init", r"$\|H\| / K(x,x)$ at $w_0$", "‖H‖/K(x, x) at w₀"),
        # The network against its linearisation f_lin(w) = f(w_0) + J(w_0)(w - w_0) (numerics.linearisation):
        # max over the kernel snapshots of ||f(w_t) - f_lin(w_t)|| / ||f(w_T) - f(w_0)||, and max over the steps
        # of ||f(w_t) - f_lin,t|| / ||y - f(w_0)|| with f_lin trained alongside by the same gradient descent
        Quantity("linearisation_error", "linearisation_error",
                 r"$\max_t \|f(w_t) - f_{\mathrm{lin}}(w_t)\| / \|f(w_T) - f(w_0)\|$", "‖f − f_lin‖ on the path"),
        Quantity("linearised_gap", "linearised_gap",
                 r"$\max_t \|f(w_t) - f_{\mathrm{lin},t}\| / \|y - f(w_0)\|$", "‖f − f_lin‖, f_lin trained"),
        # K(w_0) against the infinite-width kernel Theta (numerics.infinite_width), where Theta is derived
        Quantity("kernel_deviation", "kernel_deviation_init", r"$\|K(w_0) - \Theta\|_F / \|\Theta\|_F$",
                 "‖K(w₀) − Θ‖/‖Θ‖"),
    )
}
LINEARISATION_QUANTITIES = ("linearisation_error", "linearised_gap")
# Fitted from the ball table (one fit per group and radius), not from a column of runs.csv.
BALL_HESSIAN_SUP = Quantity("ball_hessian_sup", "hessian_sup", r"$\sup_{B(w_0, R)} \|H\|$", "sup ‖H‖ in B(w₀, R)")
# The quantities of the paper's Table 1 comparison (table1_scaling.csv), in its column order.
TABLE1_QUANTITIES = ("hessian_norm", "ntk_diag", "delta_k", "weight_change_l2", "weight_change_linf",
                     *LINEARISATION_QUANTITIES)

# ---------------------------------------------------------------------------------------------
# Architectures: label, colour, the paper's Table 1 row and theory slopes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperRow:
    """One row of the paper's Table 1: Hessian norm, tangent kernel, transition to linearity."""

    hessian_norm: str
    ntk: str
    transition: str


@dataclass(frozen=True)
class Architecture:
    """A network shape the sweeps train.

    ``theory`` holds the predicted log-log slopes against ``fit_axis``, where a theory exists;
    ``paper_row`` is the paper's Table 1 row (``None``: not in its Table 1, listed below its rows);
    ``claim`` is what the paper states elsewhere for an architecture outside its Table 1 (its
    Appendix H: convolutional and residual networks, the width being the number of channels),
    shown in the paper's columns of that row, which is then marked as the claim of ``source``;
    ``verdict_rule`` says how the transition verdict is computed:
    ``"slopes"`` (the Delta K and ||H|| slopes against width both provably decay),
    ``"ratio"`` (the same with the scale-free ||H|| / K(x, x) in place of ||H||, for networks whose kernel
    scale moves with the fit axis: the standard parameterisation, the output scale) or
    ``"narrowest"`` (Delta K at the narrowest point of the sweep axis against a threshold).
    ``role`` is the part an architecture plays in the paper's own experiments (:data:`ROLES`), so that
    tables, figures and the report never test names: ``"linear_head"`` (the one-hidden-layer network with
    a linear output of Fig. 1, the reference the others are compared with), ``"nonlinear_head"`` (its
    swish and softmax counterparts), ``"bottleneck"`` (the network of Fig. 2) or ``""`` (none).
    """

    name: str
    label: str
    color: str
    fit_axis: str
    theory: Mapping[str, float]
    paper_row: PaperRow | None = None
    verdict_rule: str = "slopes"
    source: str = ""
    claim: PaperRow | None = None
    role: str = ""


def _with_taylor_bound(theory: Mapping[str, float]) -> dict[str, float]:
    """``theory`` with the slope of the linearisation measures (:data:`LINEARISATION_QUANTITIES`) where the
    slopes of ||H|| and ||w* - w_0|| are known: that of the Taylor bound |f - f_lin| <= 1/2 sup ||H||
    ||w - w_0||^2 (Section 1), the ||H|| slope plus twice the ||w* - w_0|| slope (||f(w_T) - f(w_0)|| and
    ||y - f(w_0)|| are Theta(1)): -1/2 for a linear output (Eq. 5, 10 and Eq. 2), 0 for a non-linear one
    (Eq. 14). An upper bound: the measured error may fall faster (along the GD path of a linear output
    Lee et al. 2019 see 1/m)."""
    if "hessian_norm" not in theory or "weight_change_l2" not in theory:
        return dict(theory)
    bound = theory["hessian_norm"] + 2 * theory["weight_change_l2"]
    return dict(theory) | dict.fromkeys(LINEARISATION_QUANTITIES, bound)


_LINEAR_THEORY = {"hessian_norm": -0.5, "ntk_diag": 0.0, "delta_k": -0.5, "weight_change_l2": 0.0,
                  "weight_change_linf": -0.5, "path_hessian_sup": -0.5, "ball_hessian_sup": -0.5,
                  "hessian_ratio": -0.5}
# Where the infinite-width kernel Theta is derived (one-hidden-layer or deep mlp, NTK parameterisation, linear
# head): K(w_0) is a mean of m i.i.d. terms with mean Theta, so ||K(w_0) - Theta|| / ||Theta|| ~ m^(-1/2).
_MLP_LINEAR_THEORY = _LINEAR_THEORY | {"kernel_deviation": -0.5}
_NONLINEAR_THEORY = {"hessian_norm": 0.0, "ntk_diag": 0.0, "delta_k": 0.0, "weight_change_l2": 0.0,
                     "path_hessian_sup": 0.0, "ball_hessian_sup": 0.0, "hessian_ratio": 0.0}
# Standard parameterisation, one hidden layer (Appendix B): dW_SP = sqrt(fan_in) dW_NTK, so the kernel is
# d K_1 + m K_V = Theta(m) (the readout's term dominates); the per-neuron 2 x 2 Hessian block
# [[., sigma' x], [sigma' x, 0]] no longer carries 1/sqrt(m): ||H|| = Theta(1) with a linear output and,
# by Eq. 14, |phi''| K(x, x) = Theta(m) with a non-linear one. ||w* - w_0|| ~ |f - y| / ||grad f|| (Eq. 2).
_STANDARD_LINEAR_THEORY = {"hessian_norm": 0.0, "ntk_diag": 1.0, "hessian_ratio": -1.0, "weight_change_l2": -0.5}
_STANDARD_NONLINEAR_THEORY = {"hessian_norm": 1.0, "ntk_diag": 1.0, "hessian_ratio": 0.0, "delta_k": 0.0,
                              "weight_change_l2": -0.5}
# Output scaling (Chizat et al., Appendix A), against alpha: K -> alpha^2 K, H -> alpha H; the model
# must move 1/alpha as far, so the weights move O(1/alpha) and the kernel changes O(1/alpha).
_LAZY_THEORY = {"hessian_norm": 1.0, "ntk_diag": 2.0, "hessian_ratio": -1.0, "delta_k": -1.0,
                "weight_change_l2": -1.0}
_CONV_LINEAR_CLAIM = PaperRow("O~(1/sqrt C)", "Theta(1)", "Yes")  # Appendix H, m = channels C
_NONLINEAR_CLAIM = PaperRow("O~(1)", "Theta(1)", "No")

ARCHITECTURES: Mapping[str, Architecture] = {
    a.name: dataclasses.replace(a, theory=_with_taylor_bound(a.theory))  # + the linearisation slopes
    for a in (
        Architecture("linear_output", "linear output", "tab:blue", "width", _MLP_LINEAR_THEORY,
                     PaperRow("O~(1/sqrt m)", "Theta(1)", "Yes"), source="Eq. 5, 7, 10", role="linear_head"),
        Architecture("softmax_output", "softmax output", "tab:red", "width", _NONLINEAR_THEORY,
                     PaperRow("O~(1)", "Theta(1)", "No"), source="Eq. 11, 14", role="nonlinear_head"),
        Architecture("swish_output", "swish output", "tab:green", "width", _NONLINEAR_THEORY,
                     PaperRow("O~(1)", "Theta(1)", "No"), source="Eq. 11, 14", role="nonlinear_head"),
        Architecture("bottleneck", "bottleneck", "tab:purple", "bottleneck_width", {"ntk_diag": 0.0},
                     PaperRow("O~(1)", "Theta(1)", "No"), verdict_rule="narrowest", source="Section 4",
                     role="bottleneck"),
        Architecture("deep_linear_output", "deep, linear output", "tab:cyan", "width", _MLP_LINEAR_THEORY,
                     source="Theorem 3.2"),
        # Appendix H: the structural conditions of Theorem 3.1 hold for convolutional and residual
        # networks with the width m = number of channels; a non-linear head or a narrow layer breaks
        # linearity whatever the layers are (Section 4).
        Architecture("cnn_linear_output", "CNN, linear output", "navy", "channels", _LINEAR_THEORY,
                     source="Theorem 3.1, Appendix H", claim=_CONV_LINEAR_CLAIM),
        Architecture("cnn_swish_output", "CNN, swish output", "darkgreen", "channels", _NONLINEAR_THEORY,
                     source="Section 4, Eq. 11, 14", claim=_NONLINEAR_CLAIM),
        Architecture("cnn_softmax_output", "CNN, softmax output", "darkred", "channels", _NONLINEAR_THEORY,
                     source="Section 4, Eq. 11, 14", claim=_NONLINEAR_CLAIM),
        Architecture("resnet_linear_output", "ResNet, linear output", "tab:orange", "channels", _LINEAR_THEORY,
                     source="Theorem 3.1, Appendix H", claim=_CONV_LINEAR_CLAIM),
        # The one-hidden-layer linear-output network trained with eta * lambda_0 swept across the
        # linearised stability limit 2 (catapult, beyond the paper): its own architecture, so that its
        # runs at large steps stay out of the paper's Table 1 and Fig. 1, which pool "linear_output".
        Architecture("linear_output_lr", "linear output, ηλ₀ swept", "tab:olive", "width",
                     {"hessian_norm": -0.5, "ntk_diag": 0.0, "kernel_deviation": -0.5},
                     source="the catapult phase, Lewkowycz et al. 2020"),
        Architecture("cnn_bottleneck", "CNN, channel bottleneck", "tab:brown", "bottleneck_channels",
                     {"ntk_diag": 0.0}, verdict_rule="narrowest", source="Section 4, Appendix H",
                     claim=_NONLINEAR_CLAIM),
        # Appendix B: the one-hidden-layer network in either parameterisation, the learning rate set
        # relative to each run's critical 2 / lambda_0 (so that both train at the same eta * lambda_0).
        Architecture("linear_output_ntk", "linear output, NTK parameterisation", "tab:blue", "width",
                     _MLP_LINEAR_THEORY, verdict_rule="ratio", source="Appendix B"),
        Architecture("linear_output_standard", "linear output, standard parameterisation", "tab:purple", "width",
                     _STANDARD_LINEAR_THEORY, verdict_rule="ratio", source="Appendix B"),
        Architecture("swish_output_ntk", "swish output, NTK parameterisation", "tab:green", "width",
                     _NONLINEAR_THEORY, verdict_rule="ratio", source="Appendix B, Eq. 14"),
        Architecture("swish_output_standard", "swish output, standard parameterisation", "tab:olive", "width",
                     _STANDARD_NONLINEAR_THEORY, verdict_rule="ratio", source="Appendix B, Eq. 14"),
        # Appendix A and Section 4: Chizat et al.'s output scaling makes any model lazy, against alpha.
        Architecture("lazy_swish_output", "swish output, scaled by alpha", "tab:green", "output_scale",
                     _LAZY_THEORY, verdict_rule="ratio", source="Appendix A (Chizat et al.)"),
        Architecture("lazy_softmax_output", "softmax output, scaled by alpha", "tab:red", "output_scale",
                     _LAZY_THEORY, verdict_rule="ratio", source="Appendix A (Chizat et al.)"),
        # The same networks trained on scikit-learn's digits (the `digits` data source, one-hot targets of
        # 10 classes): their own architectures, so that real data stays out of the synthetic rows.
        Architecture("digits_linear_output", "linear output, digits", "tab:blue", "width", _MLP_LINEAR_THEORY,
                     source="Eq. 5, 7, 10"),
        Architecture("digits_softmax_output", "softmax output, digits", "tab:red", "width", _NONLINEAR_THEORY,
                     source="Eq. 11, 14"),
        Architecture("digits_cnn_linear_output", "CNN, linear output, digits", "navy", "channels", _LINEAR_THEORY,
                     source="Theorem 3.1, Appendix H", claim=_CONV_LINEAR_CLAIM),
        Architecture("digits_cnn_softmax_output", "CNN, softmax output, digits", "darkred", "channels",
                     _NONLINEAR_THEORY, source="Section 4, Eq. 11, 14", claim=_NONLINEAR_CLAIM),
    )
}
# The paper's architectures, in the row order of table1_scaling.csv and table1.md.
PAPER_ARCHITECTURES = tuple(name for name, a in ARCHITECTURES.items() if a.paper_row is not None)
ROLES = ("linear_head", "nonlinear_head", "bottleneck")


def with_role(role: str) -> tuple[str, ...]:
    """The architectures that play ``role`` (:data:`ROLES`), in the order of :data:`ARCHITECTURES`."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {list(ROLES)}, got {role!r}")
    return tuple(name for name, a in ARCHITECTURES.items() if a.role == role)


# The one-hidden-layer networks of Fig. 1 (left and right) and of the E5 and E6 figures: the linear head
# first, then the non-linear ones.
LINEAR_HEAD = with_role("linear_head")[0]
NONLINEAR_HEADS = tuple(reversed(with_role("nonlinear_head")))  # swish, then softmax, as the paper lists them
FIG1_ARCHITECTURES = (LINEAR_HEAD, *with_role("nonlinear_head"))
BOTTLENECK = with_role("bottleneck")[0]  # the network of Fig. 2: a narrow layer inside wide ones

# A colour for each group of a sweep whose groups are not one architecture each (e.g. depths).
GROUP_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
                "tab:pink", "tab:gray", "tab:olive", "tab:cyan")
