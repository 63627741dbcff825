"""Child side: time one case (first call, then repetitions) and return its JSON-able result."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

from ntk_linearity.bench.cases import D_IN, IMAGE_SHAPE, KERNEL_SIZE, N_IMAGES, N_SAMPLES, Case

# The settings of every benchmarked network and of the benchmark images (the builders default none)
NETWORK_SETTINGS = dict(activation="tanh", head="linear", train_last_layer=True, dtype="float32", init_scheme="iid")
MLP_SETTINGS = NETWORK_SETTINGS | dict(parameterization="ntk", output_scale=1.0)
CONV_SETTINGS = NETWORK_SETTINGS | dict(kernel_size=KERNEL_SIZE, pooling="global_average")
IMAGE_TARGETS = dict(amplitude=0.25, frequency=1.0, n_classes=2, temperature=1.0, smoothness=2.0)


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


def _case_inputs(case: Case):
    """The inputs of ``case``: n points on the unit sphere, or (conv nets) n smooth images. Every case,
    the baseline included, imports :mod:`ntk_linearity.numerics` here and builds the sphere inputs."""
    import jax

    from ntk_linearity.numerics import synthetic_images

    X = jax.block_until_ready(_unit_sphere_inputs())
    if case.arch != "mlp":
        X = jax.block_until_ready(
            synthetic_images(0, N_IMAGES, *IMAGE_SHAPE, **IMAGE_TARGETS)["X"]
        )
    return X


def _build_model(case: Case):
    """The network of an ``ntk`` or ``hessian`` case (``mlp``, ``cnn`` or ``resnet``)."""
    if case.arch == "cnn":
        from ntk_linearity.numerics import cnn

        return cnn(IMAGE_SHAPE, case.widths, **CONV_SETTINGS)
    if case.arch == "resnet":
        from ntk_linearity.numerics import resnet

        return resnet(IMAGE_SHAPE, case.widths, case.blocks, **CONV_SETTINGS)
    from ntk_linearity.numerics import mlp

    return mlp(D_IN, case.widths, **MLP_SETTINGS)


def _run_matmul(m: int, max_reps: int, rep_budget_s: float) -> dict:
    """Timing of one jitted float32 (n x m)(m x n) product."""
    import jax
    import jax.numpy as jnp

    ka, kb = jax.random.split(jax.random.key(1))
    A = jax.random.normal(ka, (N_SAMPLES, m), jnp.float32)
    B = jax.random.normal(kb, (m, N_SAMPLES), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    timing = _time_calls(lambda: matmul(A, B), max_reps, rep_budget_s)
    timing.pop("out")
    return timing


def _run_ntk(case: Case, model, params, X, max_reps: int, rep_budget_s: float, kernel_dir: str | None) -> dict:
    """Timing of ``empirical_ntk`` with the case's method, the kernel's norm and shape; the kernel is
    saved to ``kernel_dir`` (if given) so that the parent can compare structured and jacobian."""
    import jax.numpy as jnp

    from ntk_linearity.numerics import empirical_ntk

    timing = _time_calls(
        lambda: empirical_ntk(model.apply, params, X, method=case.method),
        max_reps,
        rep_budget_s,
    )
    K = timing.pop("out")
    timing["K_fro"] = float(jnp.linalg.norm(K))
    timing["K_shape"] = list(K.shape)
    if kernel_dir:  # the parent compares structured and jacobian kernels entrywise
        import numpy as np

        np.save(Path(kernel_dir) / f"{case.name}.npy", np.asarray(K))
    return timing


def _run_hessian(case: Case, model, params, X, max_reps: int, rep_budget_s: float, lanczos_steps: int) -> dict:
    """Timing of ``hessian_spectral_norm`` on the first input, with the norm, residual and steps."""
    from ntk_linearity.numerics import hessian_spectral_norm

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
    timing.update(
        norm=float(sn.norm),
        residual=float(sn.residual),
        lambda_min=float(sn.lambda_min),
        lambda_max=float(sn.lambda_max),
        steps_taken=int(sn.steps),  # Lanczos steps, or bisection steps of the closed form
        lanczos_steps=steps if "lanczos" in case.method else 0,
    )
    return timing


def run_case(
    case: Case, max_reps: int, rep_budget_s: float, lanczos_steps: int, kernel_dir: str | None = None
) -> dict:
    """Run one case in this process: its timings and results, then this process's peak memory."""
    import jax

    X = _case_inputs(case)
    result: dict = {"name": case.name}
    if case.kind == "matmul":
        result.update(_run_matmul(case.widths[0], max_reps, rep_budget_s))
    elif case.kind != "baseline":
        model = _build_model(case)
        params = jax.block_until_ready(model.init(jax.random.key(0)))
        result["p"] = model.n_params
        if case.kind == "ntk":
            result.update(_run_ntk(case, model, params, X, max_reps, rep_budget_s, kernel_dir))
        else:
            result.update(_run_hessian(case, model, params, X, max_reps, rep_budget_s, lanczos_steps))
    result["maxrss_bytes"] = _maxrss_bytes()
    result["device_peak_bytes"] = _device_peak_bytes()
    return result
