"""The report's fixed prose: what each section states before its measurements (the paper's claims,
the arguments of its appendices). Every number, sweep and method sentence comes from
:mod:`.plan` and :mod:`.method`; nothing here names a sweep or a setting."""

SUBTITLE = """\
*Liu, Zhu & Belkin, "On the linearity of large non-linear models: when and why the tangent kernel is
constant", NeurIPS 2020, reproduced with Kedro and JAX.*
"""

CLAIM = """\
A model f(w; x) has a constant tangent kernel K(w; x, z) = ∇f(w; x)ᵀ∇f(w; z)
(gradients with respect to the parameters w) if and only if it is linear in w. The paper explains why some wide networks become
linear (the "neural tangent kernel" regime) and when they do not:

1. With a **linear output layer**, the spectral norm of the Hessian of the model, ‖H‖ = ‖∂²f/∂w²‖,
   scales like 1/√m with the width m, while the gradient ‖∇f‖ stays Θ(1) (Table 1, Eq. 5, 6).
   In a ball of fixed radius the model is then close to linear, and the change of the tangent kernel
   during training, ΔK, vanishes as m → ∞ (Fig. 1).
2. With a **non-linear output layer** (swish, softmax) or a **narrow bottleneck layer** inside an
   otherwise wide network, ‖H‖ = Θ(1): the kernel moves by Θ(1) at every width (Fig. 1, Fig. 2, Section 4).
3. The constancy is **not "lazy training"**: the weights travel a Euclidean distance
   ‖w* − w₀‖₂ = Θ(1); only the largest single-weight change
   ‖w* − w₀‖∞ = O(1/√m) is small (Section 1, Eq. 2).
4. A moving kernel does **not prevent optimisation**: gradient descent converges for the non-linear
   head as well (Section 5, Theorem 5.1).

Section 3 measures each statement on this run's sweep. Every number in the text is computed from the
run's persisted tables (`runs.csv`, `table1_scaling.csv`, `training_curves.csv`); the figures are drawn
by the same functions as the pipeline's PNG outputs.
"""

SETUP = """\
The paper's appendix with the exact experimental setup (data, number of samples, input dimension,
learning rates, stopping rule) is not available, so every choice below is this project's. The values
are read from this run's parameters.
"""

TABLE1 = """\
The paper's Table 1 beside the exponents measured in this run; the verdict in the last column is
computed from the data by the rule stated under the table.
"""

CLAIMS_H = """\
The paper states (Theorem 3.1 and its Appendix H) that its structural conditions, and so
‖H‖ = Õ(1/√m) and a constant tangent kernel, hold for deep convolutional and residual networks and
for mixtures of convolutional and fully connected layers, the width m being the number of channels C;
a non-linear output layer or a narrow layer breaks linearity whatever the layers are (Section 4). The
paper measures none of it. Each sweep below trains such networks on the smooth random images of the
Setup; its first figure shows every measured quantity against C (or the bottleneck channels C_b),
its second the loss and the kernel change of every run along training (E6 and E2 for these networks),
and the verdicts use the rule of Table 1, whose rows below the paper's repeat them.
"""

CATAPULT = """\
The paper's claim is conditional: the kernel stays constant in a ball of fixed radius around w₀, and
gradient descent with a small enough step stays in it. For the square loss, GD on the linearised model
maps the residual r to (I − (η/n) K) r, so it converges exactly when ηλ₀ < 2, λ₀ = λ_max(K(w₀)/n).
Above that limit a wide network's loss first grows; the top eigenvalue of K_t/n then falls until
η λ_max(K_t/n) < 2 and training converges, with the kernel moved by Θ(1) at every width: the
"catapult" phase (Lewkowycz et al. 2020; Zhu, Liu, Radhakrishnan and Belkin on quadratic models).
Well above it GD diverges. Each sweep with an `eta_lambda0` axis sets η = ηλ₀ / λ₀ per run; the first
figure shows ΔK against width for each ηλ₀ and how every run ended (diverged runs marked), the second
the loss spike and η λ_max(K_t/n) along training at the largest width. The catapult's peak grows with
the width (the residual grows until its square is of order m, where the kernel's O(r²/m) change turns
it back), so these sweeps count a run as diverged only far above any catapult peak
(`divergence_factor` of the sweep).
"""

BALL = """\
Proposition 2.2 bounds the change of the tangent kernel in a ball B(w₀, R) by the Hessian norm in it.
With its constant made explicit (`numerics/ball.py`): along the segment from w₀ to w,
‖g_x(w) − g_x(w₀)‖ ≤ ε_x ρ with ε_x = sup ‖H_x‖ on the segment and ρ = ‖w − w₀‖, so
|K_xz(w) − K_xz(w₀)| ≤ ρ min(ε_x|g_z(w)| + |g_x(w₀)|ε_z, ε_x|g_z(w₀)| + |g_x(w)|ε_z) entry by entry, and the
Frobenius norm of that matrix bounds ‖K(w) − K(w₀)‖_F. Both sides are measured at random points w₀ + R u
(unit directions u, radii R in units of R* = ‖w* − w₀‖₂ of the trained run) and along the path from w₀ to the
trained weights w*, on the probe inputs; ε_x is the largest closed-form ‖H_x‖ on a grid of the segment.
The ratio of measured change to bound can never exceed 1; a point above it would be a bug.
"""

PARAMETERIZATION = """\
The paper uses the NTK parameterisation (weights N(0, 1), each pre-activation divided by √fan-in) and
states that another one, e.g. the standard (LeCun) parameterisation with weights N(0, 1/fan-in) and no
division, rescales the tangent kernel and the Hessian by the same factor and so changes no conclusion.
The two compute the same function at w₀ (the same key draws W_SP = W_NTK/√fan-in), but
∂f/∂W_SP = √fan-in · ∂f/∂W_NTK: the kernel's term of each layer is multiplied by its fan-in and each
Hessian block by √(fan-in · fan-in′). Both are trained at the same η·λ₀ (the learning rate set relative
to each run's critical 2/λ₀). The figure shows K(x, x) (mean over the inputs), ‖H‖ at the probe input x₀,
the scale-free ratio ‖H(x₀)‖/K(x₀, x₀) (a common factor cancels in it) and ΔK against width; the statement compares the
exponents of ΔK and of the ratio between the two parameterisations.
"""

OUTPUT_SCALING = """\
Chizat et al.'s "lazy training" makes the kernel of *any* model nearly constant by scaling its output:
f_α(w; x) = α (f(w; x) − f(w₀; x)), trained on the loss divided by α². Here the model is α·f and the offset
f(w₀) lives in the targets: the residual α f(w) − (y + (α − 1) f(w₀)) equals f_α(w) − (y − f(w₀)). Against
y − f(w₀) rather than y, α = 1 is the ordinary problem, and for the softmax head (f = p, whose change
p − p₀ sums to zero over the classes) the targets y − p₀ are attainable; with p₀ uniform (the antisymmetric
initialisation) the loss differs from the one against y by a constant only, so the gradients are the same.
Dividing the loss by α² makes the step size α-independent: GD on L/α² with step η is GD on L with step
η/α², the critical η is 2/λ_max(K/n) of the unscaled network at every α, and the residual follows the
same linearised dynamics r ← (I − η K/n) r for every α, so the recorded loss (the fit of y − f(w₀), not
divided) starts at the same value and the tolerance means the same fit. The network itself only has to
move its output 1/α of the way, so its weights move O(1/α) and its kernel changes O(1/α). The paper's
point (Section 4) is that this is not why wide networks have constant kernels: width freezes the kernel
only with a linear output, while the weights still travel Θ(1).
"""

OTHER_SWEEPS = """\
Each other sweep declared in the configuration, with its figure (every measured quantity against the
sweep's fit axis, one line per group, seeds as dots) and its slopes from `scaling.csv`. Sweeps beyond the
paper's Section 6 (e.g. the depth sweep of Theorem 3.2) appear here and below Table 1.
"""

LINEARITY = """\
The paper's title claim is that wide networks *become linear models*; its figures show the symptoms (ΔK,
‖H‖). This section measures the claim itself. First the network against its own linearisation
f_lin(w) = f(w₀) + J(w₀)(w − w₀) (Section 1, Eq. 2–3; Proposition 2.1: a model is linear exactly when its
tangent kernel is constant), in two ways: the linearisation error max_t ‖f(w_t) − f_lin(w_t)‖ / ‖f(w_T) − f(w₀)‖
along the trained path (at the kernel snapshots), and the gap max_t ‖f(w_t) − f_lin,t‖ / ‖y − f(w₀)‖ to the
linearised model trained alongside by the same gradient descent. Taylor's theorem bounds the first per
input by ½ sup ‖H‖ ‖w − w₀‖²: with ‖w − w₀‖ = Θ(1) (Eq. 2) it falls like m^(−½) for a linear output (Eq. 5, 10)
and does not fall for a non-linear head (Eq. 14). Then the tangent kernel at w₀ against its infinite-width
limit Θ, the kernel the m → ∞ network is linear in; last, the same networks on real data.
"""
