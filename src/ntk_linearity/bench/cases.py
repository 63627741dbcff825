"""The benchmark cases: what each one runs, at which size, and its floor (:mod:`.floors`).

Building the list is arithmetic only (no JAX, no model objects), so that the asv suite can be
discovered, and the table printed, without compiling anything, and so that a commit whose numerics
differ still loads the list. ``cases(tiny=True)`` is the same list at sizes that run in seconds (the
test of the suite).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from . import programs
from .floors import F32, Floor, gemm_floor, pass_floor, start_floor, training_floor
from .kedro_run import kedro_run_program

LANCZOS_STEPS = 64  # the library's default number of Lanczos steps (hessian.lanczos_steps of conf/base)


@dataclass(frozen=True)
class Case:
    """One benchmark: ``program(*args)`` builds and compiles it and returns the thunk that is timed;
    ``memory``: its peak memory is benchmarked too (memory, not time, limits its size)."""

    name: str
    program: Callable[..., Callable[[], object]]
    args: tuple
    floor: Floor
    memory: bool = False
    timeout: float = 600.0

    def build(self) -> Callable[[], object]:
        return self.program(*self.args)

    @property
    def version(self) -> str:
        """What asv keys the history on: the program and its sizes (not the library's code, whose
        speed is what the history follows)."""
        return f"{self.program.__name__}{self.args}"


def mlp_params(arch: tuple) -> int:
    """Parameters of ``("mlp", d, widths, activation)`` with one trained output."""
    sizes = (arch[1], *arch[2], 1)
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


def conv_params(arch: tuple, kernel: int = 3) -> int:
    """Parameters of ``("cnn", image, channels)`` or ``("resnet", image, channels, blocks)``: k x k
    convolutions (a resnet stage: one into it, two per block) and a linear readout."""
    c_in, convs = arch[1][2], []
    for s, c in enumerate(arch[2]):
        convs += [(c_in, c)] + ([(c, c)] * (2 * arch[3][s]) if arch[0] == "resnet" else [])
        c_in = c
    return sum(kernel * kernel * a * b for a, b in convs) + arch[2][-1]


def params_of(arch: tuple) -> int:
    return mlp_params(arch) if arch[0] == "mlp" else conv_params(arch)


def _kernel_cases(tag: str, arch: tuple, n: int, methods=("structured", "jacobian")) -> list[Case]:
    """The structured and Jacobian kernels of one network. Floor of the Jacobian kernel (and of a
    convolutional structured kernel, which contracts per-sample gradients): the Gram of the n x p
    Jacobian, one (n x p)(p x n) GEMM. Floor of a dense structured kernel: its per-layer Grams
    ``G G^T`` and ``A A^T``, one GEMM of inner size sum_l (fan_in + fan_out)."""
    p = params_of(arch)
    out = []
    for method in methods:
        if method == "structured" and arch[0] == "mlp":
            sizes = (arch[1], *arch[2], 1)
            inner = sum(a + b for a, b in zip(sizes, sizes[1:]))
            floor = gemm_floor(f"per-layer Grams, (n x {inner})(. x n)", n, inner, n)
            if len(arch[2]) == 1:  # the two (n x m)(m x n) Grams, as the targets count them
                floor = gemm_floor(f"2 Grams (n x {arch[2][0]})(. x n)", n, arch[2][0], n, times=2)
        else:
            floor = gemm_floor(f"Jacobian Gram (n x {p})(p x n)", n, p, n)
        memory = method == "jacobian" or arch[0] != "mlp" or max(arch[2]) >= 10**6
        out.append(Case(f"ntk_{tag}_{method}", programs.kernel_program, (arch, n, method), floor, memory))
    return out


def _hessian_cases(shallow: tuple, bottleneck: tuple, steps: int) -> list[Case]:
    """||H|| by closed form (floor: one pass over the parameters) and by Lanczos on the layer
    subspace and on all parameters (floor: each of ``steps`` steps reads the weights once)."""
    p_shallow, p_bottleneck = mlp_params(shallow), mlp_params(bottleneck)
    weights = pass_floor("read the weights once per Lanczos step", F32 * p_bottleneck, times=steps)
    return [
        Case("hessian_closed_form", programs.hessian_program, (shallow, "closed_form"),
             pass_floor("one pass over the parameters", F32 * p_shallow)),
        Case("hessian_subspace_lanczos", programs.hessian_program, (bottleneck, "subspace_lanczos", 0.0), weights),
        Case("hessian_full_lanczos", programs.hessian_program, (bottleneck, "lanczos", 0.0), weights, memory=True),
    ]


def _run_cases(snapshot: tuple, n: int, step: tuple, step_n: int, ball: tuple) -> list[Case]:
    """A run's kernel snapshot (floor: its four (n x m)(m x n) products), one GD step (floor: read and
    write every parameter once) and the closed-form ||H|| of a ball's direction (floor: one read of
    the parameters per grid point and probe)."""
    m, (probes, points) = snapshot[2][0], ball[1:3]
    return [
        Case("kernel_snapshot", programs.snapshot_program, (snapshot, n),
             gemm_floor(f"4 products (n x {m})(. x n)", n, m, n, times=4)),
        Case("gd_step", programs.gd_step_program, (step, step_n),
             pass_floor("read and write every parameter", 2 * F32 * mlp_params(step)), memory=True),
        Case("ball_bisection", programs.ball_program, ball,
             pass_floor(f"read the parameters per point and probe ({points} x {probes})",
                        F32 * mlp_params(ball[0]), times=probes * points)),
    ]


def _infinite_width_cases(n: int, depth: int) -> list[Case]:
    """The infinite-width NTK of a depth-``depth`` network on n inputs (floor: one pass over the n x n
    kernel per layer)."""
    return [Case("infinite_width_ntk", programs.infinite_width_program, (n, depth),
                 pass_floor("read and write the n x n kernels once per layer", 2 * F32 * n * n, times=depth))]


def _linearisation_cases(runs: dict[str, str]) -> list[Case]:
    """A run's training with the two linearisation measures (``runs``: name -> training key of
    :func:`~ntk_linearity.bench.programs.training_program`); floor: the same training without them, so
    that the ratio less one is what the measures add to the training."""
    return [Case(f"linearisation_{name}", programs.training_program, (key,),
                 training_floor("the same training without the two measures", key)) for name, key in runs.items()]


def cases(tiny: bool = False) -> list[Case]:
    """Every case, in the order of the table; ``tiny``: the same programs at small sizes."""
    if tiny:
        n, d, wide, big, images = 6, 3, 64, 256, (6, 6, 3)
        deep, bottleneck, channels = (8,) * 4, (16, 4, 16), (4, 4, 4)
        resnet, conv_n, step_n, ball = ("resnet", images, (4, 8), (1, 1)), 4, 4, (3, 3)
        trainings = {"linear": "linear:3x16x4x1x20", "softmax": "softmax:3x16x4x3x20"}
    else:
        n, d, wide, big, images = 100, 10, 10**5, 10**6, (16, 16, 3)
        deep, bottleneck, channels = (512,) * 4, (2048, 64, 2048), (64, 64, 64)
        resnet, conv_n, step_n, ball = ("resnet", images, (64, 128), (1, 1)), 64, 32, (8, 9)
        # conf/base's width_sweep (d 8, n 32, its widest linear run but one) and digits_width_sweep's
        # softmax run (d 64, n 64, 10 classes, its widest), 1000 steps each
        trainings = {"linear": "linear:8x10000x32x1x1000", "softmax": "softmax:64x3000x64x10x1000"}
    shallow = lambda m: ("mlp", d, (m,), "erf")  # noqa: E731
    return [
        *_kernel_cases("shallow_1e5", shallow(wide), n),
        *_kernel_cases("shallow_1e6", shallow(big), n, methods=("structured",)),
        *_kernel_cases("deep", ("mlp", d, deep, "tanh"), n),
        *_kernel_cases("bottleneck", ("mlp", d, bottleneck, "tanh"), n),
        *_kernel_cases("cnn", ("cnn", images, channels), conv_n),
        *_kernel_cases("resnet", resnet, conv_n),
        *_hessian_cases(shallow(big), ("mlp", d, bottleneck, "tanh"), min(LANCZOS_STEPS, 4 * n)),
        *_run_cases(shallow(wide), n, shallow(big), step_n, (shallow(wide // 10), *ball, 1e-3)),
        Case("kedro_run", kedro_run_program, (), start_floor("start Python, import jax, kedro, the package"),
             timeout=1800.0),
        *_infinite_width_cases(64 if not tiny else 4, 4),
        *_linearisation_cases(trainings),
    ]


def floor_keys(selected: list[Case]) -> list[str]:
    """The distinct reference programs of ``selected``, in order."""
    return list(dict.fromkeys(case.floor.reference for case in selected))

