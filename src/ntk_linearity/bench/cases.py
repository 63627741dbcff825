"""Benchmark cases: the ``Case`` description, the list of cases and their memory estimates.

Cheap: nothing here imports JAX, so the parent process can plan and skip cases."""

from __future__ import annotations

from dataclasses import dataclass

N_SAMPLES = 100
D_IN = 8
N_IMAGES = 64
IMAGE_SHAPE = (16, 16, 3)
KERNEL_SIZE = 3
CONV_NETS = ("cnn_c64", "cnn_c512", "resnet")
RESULT_MARKER = "BENCH_RESULT "
MB = 1024**2
GB = 1024**3


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "baseline", "ntk", "matmul" or "hessian"
    widths: tuple[int, ...] = ()
    method: str = ""
    skip_reason: str = ""  # set for cases that are skipped by design
    tol: float | None = None  # Hessian cases: Lanczos tol (None: the library default, 0: all steps)
    arch: str = "mlp"  # "mlp", "cnn" (widths = channels) or "resnet" (widths = stage channels)
    blocks: tuple[int, ...] = ()  # resnet: residual blocks per stage

    @property
    def n_samples(self) -> int:
        return N_SAMPLES if self.arch == "mlp" else N_IMAGES

    @property
    def conv_layers(self) -> list[tuple[int, int, int]]:
        """``(c_in, c_out, positions S)`` of every convolution (SAME padding; resnet stages > 1 stride 2)."""
        h, w, c_prev = IMAGE_SHAPE
        layers = []
        if self.arch == "cnn":
            for c in self.widths:
                layers.append((c_prev, c, h * w))
                c_prev = c
        else:
            for s, (c, b) in enumerate(zip(self.widths, self.blocks)):
                if s:
                    h, w = -(-h // 2), -(-w // 2)
                layers += [(c_prev, c, h * w)] + [(c, c, h * w)] * (2 * b)
                c_prev = c
        return layers

    @property
    def n_params(self) -> int:
        if self.arch != "mlp":
            k2 = KERNEL_SIZE**2
            return sum(k2 * ci * co for ci, co, _ in self.conv_layers) + self.widths[-1]
        fan_ins = (D_IN, *self.widths)
        fan_outs = (*self.widths, 1)
        return sum(i * o for i, o in zip(fan_ins, fan_outs))

    @property
    def label(self) -> str:
        if self.kind == "baseline":
            return "import jax + inputs"
        if self.kind == "matmul":
            m = self.widths[0]
            return f"({N_SAMPLES}x{m})@({m}x{N_SAMPLES})"
        if self.arch == "cnn":
            return f"cnn({IMAGE_SHAPE}, {list(self.widths)})"
        if self.arch == "resnet":
            return f"resnet({IMAGE_SHAPE}, {list(self.widths)}, blocks={list(self.blocks)})"
        return f"mlp({D_IN}, {list(self.widths)})"


def human_bytes(n: float) -> str:
    for unit, size in (("GB", GB), ("MB", MB), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def _scale(width: int, quick: bool) -> int:
    return max(1, width // 100) if quick else width


DEFAULT_HESSIAN_WIDTH = 1_000_000
DEFAULT_BOTTLENECK_WIDTH = 10


def build_cases(
    quick: bool,
    hessian_width: int = DEFAULT_HESSIAN_WIDTH,
    bottleneck_width: int = DEFAULT_BOTTLENECK_WIDTH,
) -> list[Case]:
    """All benchmark cases, in the order they are run and printed. ``hessian_width``: m of the shallow
    net whose ||H|| is timed (closed form and Lanczos); ``bottleneck_width``: m_b of the (1000, m_b,
    1000) net whose ||H|| is timed by Lanczos with and without early stopping (not scaled by
    ``quick``)."""
    s = lambda w: _scale(w, quick)  # noqa: E731
    bottleneck = (s(10_000), s(1_000), s(10_000))
    cases = [Case("baseline", "baseline")]
    for tag, m in (("1e4", 10_000), ("1e5", 100_000)):
        cases.append(Case(f"shallow_{tag}_structured", "ntk", (s(m),), "structured"))
        cases.append(Case(f"shallow_{tag}_jacobian", "ntk", (s(m),), "jacobian"))
    big = Case("shallow_1e6_jacobian", "ntk", (s(1_000_000),), "jacobian")
    need = big.n_params * N_SAMPLES * 4
    cases.append(Case("shallow_1e6_structured", "ntk", (s(1_000_000),), "structured"))
    cases.append(
        Case(
            big.name,
            big.kind,
            big.widths,
            big.method,
            skip_reason=f"jacobian skipped: needs ~{human_bytes(need)} (p*n*4 bytes for the n x p Jacobian)",
        )
    )
    cases.append(Case("matmul_1e6", "matmul", (s(1_000_000),)))
    cases.append(Case("bottleneck_structured", "ntk", bottleneck, "structured"))
    cases.append(Case("bottleneck_jacobian", "ntk", bottleneck, "jacobian"))
    shallow = (s(hessian_width),)
    cases.append(Case("hessian_shallow_closed", "hessian", shallow, "closed_form"))
    cases.append(Case("hessian_shallow_lanczos", "hessian", shallow, "lanczos"))
    cases.append(Case("hessian_bottleneck", "hessian", bottleneck, "lanczos"))
    cases.append(Case("hessian_bottleneck_subspace", "hessian", bottleneck, "subspace_lanczos"))
    narrow = (s(1_000), bottleneck_width, s(1_000))
    cases.append(Case("hessian_bneck_full", "hessian", narrow, "lanczos", tol=0.0))
    cases.append(Case("hessian_bneck_early", "hessian", narrow, "lanczos"))
    c = (lambda width: max(4, width // 16)) if quick else (lambda width: width)
    conv_nets = {
        "cnn_c64": dict(arch="cnn", widths=(c(64),) * 3),
        "cnn_c512": dict(arch="cnn", widths=(c(512),) * 3),
        "resnet": dict(arch="resnet", widths=(c(64), c(128)), blocks=(1, 1)),
    }
    for net in CONV_NETS:
        for method in ("structured", "jacobian"):
            cases.append(Case(f"{net}_{method}", "ntk", method=method, **conv_nets[net]))
    return cases


def default_memory_budget() -> int:
    from ntk_linearity.numerics.kernels import DEFAULT_MEMORY_BUDGET_BYTES

    return DEFAULT_MEMORY_BUDGET_BYTES


def estimate_bytes(case: Case, memory_budget: int, lanczos_steps: int) -> tuple[int, str]:
    """A rough (deliberately generous) estimate of the case's extra memory, and how it was made."""
    n, p = case.n_samples, case.n_params
    f32 = 4
    if case.kind == "baseline":
        return 0, ""
    if case.kind == "matmul":
        m = case.widths[0]
        return 3 * n * m * f32, "3 x n*m*4"
    if case.kind == "hessian" and case.method == "closed_form":
        m = case.widths[0]
        return 2 * p * f32 + 24 * m * f32, "params + 24 x m*4 (per-neuron arrays, 2 bisection points)"
    if case.kind == "hessian" and case.method == "subspace_lanczos":
        return 10 * p * f32, "10 x p*4 (params, tangent, Hessian-vector product; the basis is small)"
    if case.kind == "hessian":
        steps = min(lanczos_steps, p)
        return 2 * (steps + 1) * p * f32 + 8 * p * f32, f"2 x Lanczos basis ({steps + 1} x p x 4 B)"
    if case.method == "structured" and case.arch != "mlp":
        # per layer: patches n*S*9*C_in, cotangents n*S*C_out and per-sample gradients n*9*C_in*C_out,
        # all alive at once (the factors are built in one jitted call), twice for intermediates
        k2 = KERNEL_SIZE**2
        per_layer = [n * S * (k2 * ci + co) + n * k2 * ci * co for ci, co, S in case.conv_layers]
        return 2 * sum(per_layer) * f32 + 2 * p * f32, "2 x sum_l n*(S*(9 C_in + C_out) + 9 C_in C_out)*4"
    if case.method == "structured":
        # params (+ a copy), ~8 activation-sized buffers per layer, the n x n kernel
        return 2 * p * f32 + 8 * n * sum(case.widths) * f32 + n * n * f32, "params + 8 x n*sum(widths)*4"
    full = p * n * f32
    chunk = max(1, min(n, memory_budget // max(2 * p * f32, 1)))
    # two chunks of Jacobian factors live at once (the budget), plus vmap(jacrev) intermediates
    est = 2 * p * f32 + 3 * chunk * p * f32
    return est, f"full Jacobian {human_bytes(full)}; chunks of {chunk} samples"
