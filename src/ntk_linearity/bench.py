"""Benchmark of the tangent-kernel and Hessian numerics (DESIGN.md sections 4 and 6).

Run ``python -m ntk_linearity.bench`` (add ``--quick`` for a smoke run with every width divided by
100, ``--cases`` to select cases, ``--hessian-width`` / ``--bottleneck-width`` to size the Hessian
cases). It prints one aligned table with, per case, the wall time of the
first call (trace + compile + run) and the median of a few further calls (``block_until_ready``),
and the peak memory of a fresh child process running only that case, both absolute and minus a
baseline child that only imports JAX and builds the inputs. Below the table it prints the ratios
``jacobian / structured`` (goal >= 10x), ``structured / matmul`` at m = 1e6 (goal <= 4x; the matmul is
one jitted float32 (n x m)(m x n) product timed in the same run), and the Hessian spectral norms with
their residuals: on the shallow net the exact closed form against Lanczos (``lanczos / closed_form``),
on the bottleneck net (1e4, 1e3, 1e4) Lanczos on all p parameters against Lanczos on the layer
subspace (``lanczos / subspace``), on the bottleneck net (1000, m_b, 1000) Lanczos with all steps
against Lanczos stopped early (``full / early``). This is not a test: nothing here asserts a time.

Convolutional cases (``cnn_*``, ``resnet_*``): the structured conv kernel (per-layer patch / cotangent
factors, :mod:`ntk_linearity.numerics.conv`) against the Jacobian path on n = 64 smooth 16x16x3 images
(``synthetic_images``): a 3-layer CNN at C = 64 and C = 512 channels and a two-stage ResNet, global
average pooling, linear head. Their ratio lines print ``jacobian / structured`` and the entrywise
agreement of the two kernels.

Every case runs in its own process (``python -m ntk_linearity.bench --case NAME``) so that its
``ru_maxrss`` is its own; before starting a case the parent estimates its memory and skips it, saying
why, when the estimate exceeds a fraction (default 70 %) of ``MemAvailable`` in ``/proc/meminfo``.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

N_SAMPLES = 100
D_IN = 8
N_IMAGES = 64
IMAGE_SHAPE = (16, 16, 3)
KERNEL_SIZE = 3
CONV_NETS = ("cnn_c64", "cnn_c512", "resnet")
RESULT_MARKER = "BENCH_RESULT "
MB = 1024**2
GB = 1024**3


# --------------------------------------------------------------------------------------------------
# Case definitions (cheap: no JAX import needed in the parent)
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Child side: run one case and print a JSON result line
# --------------------------------------------------------------------------------------------------


def _maxrss_bytes() -> int:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB


def _device_peak_bytes() -> int | None:
    import jax

    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - backends without memory stats
        return None
    if not stats:
        return None
    return stats.get("peak_bytes_in_use")


def _unit_sphere_inputs(key_seed: int = 0):
    import jax
    import jax.numpy as jnp

    X = jax.random.normal(jax.random.key(key_seed), (N_SAMPLES, D_IN), jnp.float32)
    return X / jnp.linalg.norm(X, axis=1, keepdims=True)


_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


class _CompileClock:
    """Sums JAX's trace / lower / XLA-compile durations (``jax.monitoring`` events) while active."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.backend_compiles = 0

    def __call__(self, event: str, duration: float, **kwargs) -> None:
        if event in _COMPILE_EVENTS:
            self.seconds += duration
            self.backend_compiles += event.endswith("backend_compile_duration")

    def __enter__(self) -> "_CompileClock":
        import jax

        jax.monitoring.register_event_duration_secs_listener(self)
        return self

    def __exit__(self, *exc) -> None:
        import jax

        jax.monitoring.unregister_event_duration_listener(self)


def _time_calls(fn: Callable[[], object], max_reps: int, rep_budget_s: float) -> dict:
    """First call (compile + run), then up to ``max_reps`` timed calls; stop early after
    ``rep_budget_s`` seconds of repetitions (at least one repetition always runs).

    Every repetition also records how much of its time JAX spent tracing, lowering and compiling
    (a well-cached jitted call spends none), so ``median_excl_compile_s`` isolates the compute."""
    import statistics

    import jax

    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    times: list[float] = []
    compile_s: list[float] = []
    compiles: list[int] = []
    while len(times) < max_reps and (not times or sum(times) + times[-1] <= rep_budget_s):
        with _CompileClock() as clock:
            t0 = time.perf_counter()
            out = jax.block_until_ready(fn())
            times.append(time.perf_counter() - t0)
        compile_s.append(clock.seconds)
        compiles.append(clock.backend_compiles)
    return {
        "first_s": first,
        "median_s": statistics.median(times),
        "median_excl_compile_s": statistics.median(t - c for t, c in zip(times, compile_s)),
        "compile_s_per_call": statistics.median(compile_s),
        "compiles_per_call": statistics.median(compiles),
        "reps": len(times),
        "times_s": times,
        "out": out,
    }


def run_case(
    case: Case, max_reps: int, rep_budget_s: float, lanczos_steps: int, kernel_dir: str | None = None
) -> dict:
    import jax
    import jax.numpy as jnp

    from ntk_linearity.numerics import empirical_ntk, hessian_spectral_norm, mlp

    X = jax.block_until_ready(_unit_sphere_inputs())
    if case.arch != "mlp":
        from ntk_linearity.numerics import synthetic_images

        X = jax.block_until_ready(
            synthetic_images(0, N_IMAGES, *IMAGE_SHAPE, 0.25, 1.0, 2, 1.0)["X"]
        )
    result: dict = {"name": case.name}
    if case.kind == "baseline":
        pass
    elif case.kind == "matmul":
        m = case.widths[0]
        ka, kb = jax.random.split(jax.random.key(1))
        A = jax.random.normal(ka, (N_SAMPLES, m), jnp.float32)
        B = jax.random.normal(kb, (m, N_SAMPLES), jnp.float32)
        matmul = jax.jit(jnp.matmul)
        timing = _time_calls(lambda: matmul(A, B), max_reps, rep_budget_s)
        timing.pop("out")
        result.update(timing)
    else:
        if case.arch == "cnn":
            from ntk_linearity.numerics import cnn

            model = cnn(IMAGE_SHAPE, case.widths, KERNEL_SIZE)
        elif case.arch == "resnet":
            from ntk_linearity.numerics import resnet

            model = resnet(IMAGE_SHAPE, case.widths, case.blocks, KERNEL_SIZE)
        else:
            model = mlp(D_IN, case.widths)
        params = jax.block_until_ready(model.init(jax.random.key(0)))
        result["p"] = model.n_params
        if case.kind == "ntk":
            timing = _time_calls(
                lambda: empirical_ntk(model.apply, params, X, method=case.method),
                max_reps,
                rep_budget_s,
            )
            K = timing.pop("out")
            result.update(timing)
            result["K_fro"] = float(jnp.linalg.norm(K))
            result["K_shape"] = list(K.shape)
            if kernel_dir:  # the parent compares structured and jacobian kernels entrywise
                import numpy as np

                np.save(Path(kernel_dir) / f"{case.name}.npy", np.asarray(K))
        else:  # hessian
            steps = min(lanczos_steps, model.n_params)
            tol = {} if case.tol is None else {"tol": case.tol}
            timing = _time_calls(
                lambda: hessian_spectral_norm(
                    model.apply, params, X[0], steps=lanczos_steps, method=case.method, **tol
                ),
                max_reps,
                rep_budget_s,
            )
            sn = timing.pop("out")
            result.update(timing)
            result.update(
                norm=float(sn.norm),
                residual=float(sn.residual),
                lambda_min=float(sn.lambda_min),
                lambda_max=float(sn.lambda_max),
                steps_taken=int(sn.steps),  # Lanczos steps, or bisection steps of the closed form
                lanczos_steps=steps if "lanczos" in case.method else 0,
            )
    result["maxrss_bytes"] = _maxrss_bytes()
    result["device_peak_bytes"] = _device_peak_bytes()
    return result


# --------------------------------------------------------------------------------------------------
# Parent side: spawn children, collect, print
# --------------------------------------------------------------------------------------------------


def mem_available_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1])  # .../src, so the child imports this package
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def spawn_case(name: str, args: argparse.Namespace, kernel_dir: str) -> dict:
    cmd = [sys.executable, "-m", "ntk_linearity.bench", "--case", name,
           "--reps", str(args.reps), "--rep-budget", str(args.rep_budget),
           "--lanczos-steps", str(args.lanczos_steps), "--kernel-dir", kernel_dir,
           "--hessian-width", str(args.hessian_width), "--bottleneck-width", str(args.bottleneck_width)]
    if args.quick:
        cmd.append("--quick")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_child_env(),
                              timeout=args.case_timeout)
    except subprocess.TimeoutExpired:
        return {"name": name, "status": f"timeout after {args.case_timeout:.0f} s"}
    wall = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            result = json.loads(line[len(RESULT_MARKER):])
            result["status"] = "ok"
            result["child_wall_s"] = wall
            return result
    tail = (proc.stderr.strip().splitlines() or ["<no stderr>"])[-1]
    why = "killed, likely out of memory" if proc.returncode in (-9, 137) else f"rc={proc.returncode}"
    return {"name": name, "status": f"failed ({why}): {tail[:160]}"}


def _fmt(x, spec: str, none: str = "-") -> str:
    return none if x is None else format(x, spec)


def format_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        out = []
        for i, (c, w) in enumerate(zip(cells, widths)):
            last = i == len(cells) - 1
            out.append(c.rjust(w) if i in right else (c if last else c.ljust(w)))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def print_header(args: argparse.Namespace) -> None:
    import jax

    try:
        import jaxlib

        jaxlib_version = jaxlib.__version__
    except Exception:  # noqa: BLE001
        jaxlib_version = "?"
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    avail = mem_available_bytes()
    total = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) * 1024
    except OSError:
        pass
    print("ntk_linearity benchmark: empirical_ntk structured vs jacobian, Hessian spectral norm")
    print(f"  devices     : {jax.devices()}")
    print(f"  jax         : {jax.__version__} (jaxlib {jaxlib_version}), python {platform.python_version()}")
    print(f"  cpu count   : {os.cpu_count()} (usable: {affinity})")
    print(f"  memory      : total {_fmt(total and total / GB, '.1f')} GB, "
          f"available {_fmt(avail and avail / GB, '.1f')} GB; skip a case above "
          f"{args.mem_fraction:.0%} of available")
    print(f"  inputs      : n = {N_SAMPLES}, d = {D_IN}, unit sphere, float32"
          + ("   [--quick: every width / 100]" if args.quick else ""))
    print(f"  conv inputs : n = {N_IMAGES} smooth images {IMAGE_SHAPE}, {KERNEL_SIZE}x{KERNEL_SIZE} SAME "
          f"convolutions, global average pooling, float32"
          + ("   [--quick: channels / 16, at least 4]" if args.quick else ""))
    print(f"  timing      : first call (trace+compile+run), then median of up to {args.reps} calls "
          f"(<= {args.rep_budget:.0f} s of repetitions), block_until_ready")
    print(f"  memory      : ru_maxrss of a fresh child per case; delta = minus baseline child")
    print(flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ntk_linearity.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="divide every width by 100 (smoke run)")
    parser.add_argument("--cases", nargs="+", default=["all"],
                        help="case names or shell patterns (comma or space separated); 'list' lists them")
    parser.add_argument("--reps", type=int, default=5, help="at most this many timed repetitions")
    parser.add_argument("--rep-budget", type=float, default=30.0,
                        help="stop repeating once repetitions took this many seconds (>= 1 rep)")
    parser.add_argument("--lanczos-steps", type=int, default=None,
                        help="Lanczos steps for the Hessian (default: hessian.DEFAULT_LANCZOS_STEPS)")
    parser.add_argument("--hessian-width", type=int, default=DEFAULT_HESSIAN_WIDTH,
                        help="m of the shallow net of the ||H|| cases (closed form vs Lanczos)")
    parser.add_argument("--bottleneck-width", type=int, default=DEFAULT_BOTTLENECK_WIDTH,
                        help="m_b of the (1000, m_b, 1000) net of the early-stopping ||H|| cases")
    parser.add_argument("--mem-fraction", type=float, default=0.7,
                        help="skip a case whose memory estimate exceeds this fraction of MemAvailable")
    parser.add_argument("--case-timeout", type=float, default=1800.0, help="seconds per child case")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # child mode: run one case, print JSON
    parser.add_argument("--kernel-dir", help=argparse.SUPPRESS)  # child mode: where to save K
    args = parser.parse_args(argv)

    if args.lanczos_steps is None:
        from ntk_linearity.numerics.hessian import DEFAULT_LANCZOS_STEPS

        args.lanczos_steps = DEFAULT_LANCZOS_STEPS
    cases = build_cases(args.quick, args.hessian_width, args.bottleneck_width)
    by_name = {c.name: c for c in cases}

    if args.case:  # child
        result = run_case(by_name[args.case], args.reps, args.rep_budget, args.lanczos_steps,
                          args.kernel_dir)
        print(RESULT_MARKER + json.dumps(result), flush=True)
        return

    patterns = [p for item in args.cases for p in item.split(",") if p]
    if patterns == ["list"]:
        for c in cases:
            print(f"{c.name:24s} {c.label}")
        return
    if "all" in patterns:
        selected = cases
    else:
        selected = [c for c in cases if any(fnmatch.fnmatch(c.name, p) for p in patterns)]
        if not selected:
            parser.error(f"no case matches {patterns}; known: {', '.join(by_name)}")
        if selected[0].name != "baseline":
            selected = [by_name["baseline"], *selected]

    print_header(args)
    with tempfile.TemporaryDirectory(prefix="ntk_bench_") as kernel_dir:
        results = run_selected(selected, args, kernel_dir)
    print()
    print(format_results(selected, results))


def _kernel_agreement(results: dict[str, dict], kernel_dir: str) -> None:
    """Add ``K_max_rel_diff = max|K_s - K_j| / max|K_j|`` to every jacobian result with a
    structured partner (both kernels were saved by the children)."""
    import numpy as np

    for name, r in results.items():
        if not name.endswith("_jacobian") or r.get("status") != "ok":
            continue
        s_path = Path(kernel_dir) / name.replace("_jacobian", "_structured.npy")
        j_path = Path(kernel_dir) / f"{name}.npy"
        if s_path.exists() and j_path.exists():
            Ks, Kj = np.load(s_path), np.load(j_path)
            r["K_max_rel_diff"] = float(np.max(np.abs(Ks - Kj)) / max(np.max(np.abs(Kj)), 1e-30))


def run_selected(selected: list[Case], args: argparse.Namespace, kernel_dir: str) -> dict[str, dict]:
    """Run every selected case in its own child (or skip it, saying why); return the results."""
    budget = default_memory_budget()
    results: dict[str, dict] = {}
    for case in selected:
        est, how = estimate_bytes(case, budget, args.lanczos_steps)
        avail = mem_available_bytes()
        if case.skip_reason:
            res = {"name": case.name, "status": "skipped", "note": case.skip_reason}
        elif avail is not None and est > args.mem_fraction * avail:
            res = {"name": case.name, "status": "skipped",
                   "note": f"estimated {est / GB:.1f} GB > {args.mem_fraction:.0%} of "
                           f"{avail / GB:.1f} GB available ({how})"}
        else:
            print(f"  running {case.name:24s} (estimate {est / GB:6.2f} GB) ...", end=" ", flush=True)
            res = spawn_case(case.name, args, kernel_dir)
            print(res["status"] if res["status"] != "ok" else
                  f"{res.get('median_s', 0.0):.3f} s median, child wall {res['child_wall_s']:.0f} s",
                  flush=True)
            notes = [how] if how else []
            if case.kind == "hessian" and res["status"] == "ok":
                tol = "" if case.method != "lanczos" else " tol=" + ("default" if case.tol is None else f"{case.tol:g}")
                notes.insert(0, f"|H|={res['norm']:.4g} resid={res['residual']:.2g} "
                                f"steps={res['steps_taken']}{tol} lam=[{res['lambda_min']:.3g}, {res['lambda_max']:.3g}]")
            if res["status"] != "ok":
                notes.insert(0, res["status"])
            res["note"] = "; ".join(notes)
        res["estimate_bytes"] = est
        results[case.name] = res
    _kernel_agreement(results, kernel_dir)
    return results


def format_results(selected: list[Case], results: dict[str, dict]) -> str:
    """The results table and the ratio lines, as printed by ``main``."""
    base_rss = results.get("baseline", {}).get("maxrss_bytes")
    header = ["case", "model", "p", "method", "est GB", "first s", "median s", "compile s",
              "excl.comp s", "reps", "peak RSS MB", "delta MB", "dev peak MB", "note"]
    rows = []
    for case in selected:
        r = results[case.name]
        ok = r.get("status") == "ok"
        get = lambda key: r.get(key) if ok else None  # noqa: E731
        rss = get("maxrss_bytes")
        delta = rss - base_rss if rss is not None and base_rss is not None else None
        method = case.method or {"baseline": "-", "matmul": "jnp.matmul", "hessian": "lanczos"}[case.kind]
        if case.kind == "hessian" and case.method == "lanczos":
            method += "(all steps)" if case.tol == 0 else "(early stop)"
        timed = case.kind != "baseline"
        rows.append([
            case.name,
            case.label,
            str(case.n_params) if case.kind in ("ntk", "hessian") else "-",
            method,
            f"{r['estimate_bytes'] / GB:.2f}" if timed else "-",
            _fmt(get("first_s") if timed else None, ".3f"),
            _fmt(get("median_s") if timed else None, ".4f"),
            _fmt(get("compile_s_per_call") if timed else None, ".4f"),
            _fmt(get("median_excl_compile_s") if timed else None, ".4f"),
            _fmt(get("reps") if timed else None, "d"),
            _fmt(rss and rss / MB, ".0f"),
            _fmt(delta and delta / MB, ".0f") if timed else "0",
            _fmt(get("device_peak_bytes") and r["device_peak_bytes"] / MB, ".0f"),
            r.get("note", ""),
        ])
    lines = [format_table(header, rows, right=set(range(2, 13)) - {3})]
    lines.append("")
    lines.append("compile s = time per call spent tracing/lowering/compiling (jax.monitoring); "
                 "excl.comp s = median s minus it.")
    lines.append("")
    lines.append("Ratios (same run):  API = median s,  compute = excl.comp s")

    def get(name, key):
        r = results.get(name)
        return r[key] if r and r.get("status") == "ok" else None

    for net in ("shallow_1e4", "shallow_1e5", "shallow_1e6", "bottleneck", *CONV_NETS):
        sname, jname = f"{net}_structured", f"{net}_jacobian"
        if sname not in results and jname not in results:
            continue
        s, j = get(sname, "median_s"), get(jname, "median_s")
        if s is not None and j is not None:
            sc, jc = get(sname, "median_excl_compile_s"), get(jname, "median_excl_compile_s")
            agree = results[jname].get("K_max_rel_diff")
            verdict = "" if net in CONV_NETS else (
                " (meets goal >= 10x)" if j / s >= 10 else " (MISSES goal >= 10x)")
            lines.append(
                f"  {net:12s} jacobian / structured  API {j / s:8.1f}x{verdict}   "
                f"compute {jc / max(sc, 1e-9):8.1f}x   max|K_s-K_j|/max|K| = {_fmt(agree, '.1e')}")
        else:
            missing = jname if j is None else sname
            r = results.get(missing, {})
            lines.append(f"  {net:12s} jacobian / structured  n/a ({missing}: "
                         f"{r.get('note') or r.get('status', 'not run')})")
    s, mm = get("shallow_1e6_structured", "median_s"), get("matmul_1e6", "median_s")
    if s is not None and mm is not None:
        sc, mmc = get("shallow_1e6_structured", "median_excl_compile_s"), get("matmul_1e6", "median_excl_compile_s")
        verdict = "meets" if s / mm <= 4 else "MISSES"
        lines.append(
            f"  {'shallow_1e6':12s} structured / matmul    API {s / mm:8.2f}x ({verdict} goal <= 4x)   "
            f"compute {sc / max(mmc, 1e-9):8.2f}x   (matmul {mm:.4f} s, structured {s:.4f} s)")
    for name in ("hessian_shallow_closed", "hessian_shallow_lanczos", "hessian_bottleneck",
                 "hessian_bottleneck_subspace", "hessian_bneck_full", "hessian_bneck_early"):
        r = results.get(name)
        if r and r.get("status") == "ok":
            lines.append(
                f"  {name:27s} |H| = {r['norm']:.6g}, residual = {r['residual']:.3g} "
                f"(rel {r['residual'] / max(r['norm'], 1e-30):.1e}), steps = {r['steps_taken']}, "
                f"lambda in [{r['lambda_min']:.4g}, {r['lambda_max']:.4g}], "
                f"{r['median_s']:.3f} s/call ({r['compile_s_per_call']:.2f} s of it compiling)")
        elif r:
            lines.append(f"  {name:27s} not measured: {r.get('note') or r.get('status')}")
    pairs = (
        ("hessian_shallow", "hessian_shallow_lanczos", "hessian_shallow_closed", "lanczos / closed_form"),
        ("hessian_bottleneck", "hessian_bottleneck", "hessian_bottleneck_subspace", "lanczos / subspace"),
        ("hessian_bneck", "hessian_bneck_full", "hessian_bneck_early", "full / early stop"),
    )
    for label, slow, fast, what in pairs:
        a, b = get(slow, "median_s"), get(fast, "median_s")
        if a is None or b is None:
            continue
        ac, bc = get(slow, "median_excl_compile_s"), get(fast, "median_excl_compile_s")
        na, nb = get(slow, "norm"), get(fast, "norm")
        lines.append(
            f"  {label:15s} {what:22s} API {a / max(b, 1e-9):8.1f}x   compute {ac / max(bc, 1e-9):8.1f}x   "
            f"({a:.4f} s vs {b:.4f} s; steps {get(slow, 'steps_taken')} vs {get(fast, 'steps_taken')}; "
            f"| |H|_a - |H|_b | / |H|_b = {abs(na - nb) / max(abs(nb), 1e-30):.1e})")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
