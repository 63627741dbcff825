"""The floor of a benchmark case and the reference programs that measure it on the machine at hand.

A case's floor is the least work its operation needs: a flop count (done at the speed of one
float32 GEMM of a stated shape) or a number of bytes moved (at the speed of one memory pass of that
size), or, for a whole ``kedro run``, the start of a Python process that imports the project, or, for
the linearisation measures, the same training without them (their cost is the ratio less one). The
reference program performs that work once; the suite times it beside the case in the same run, and
``ratio = time of the case / (times x time of the reference)`` says how far the case is from the
machine's own limit, measured rather than assumed.

Reference keys (strings, so that asv can store them): ``gemm:MxKxN`` one (M x K)(K x N) product,
``pass:B`` one pass that reads B/2 bytes and writes B/2 bytes (``y = 2 x``, float32), ``start`` a
process running ``import jax, kedro, ntk_linearity``, ``train:<head>:<d>x<m>x<n>x<C>x<steps>`` a run's
training without the linearisation measures (:func:`~ntk_linearity.bench.programs.training_program`).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import Callable

F32 = 4
START_CODE = "import jax, kedro.framework.session, ntk_linearity.numerics; jax.numpy.zeros(1).block_until_ready()"


@dataclass(frozen=True)
class Floor:
    """``times`` runs of the reference program ``reference``; ``amount`` of ``unit`` ("flop", "B" or
    "process") is the work those runs do, ``what`` says which work of the case it stands for."""

    what: str
    reference: str
    times: float = 1.0

    @property
    def unit(self) -> str:
        return {"gemm": "flop", "pass": "B", "start": "process", "train": "run"}[self.reference.split(":")[0]]

    @property
    def amount(self) -> float:
        kind, _, size = self.reference.partition(":")
        if kind == "gemm":
            m, k, n = (int(v) for v in size.split("x"))
            return self.times * 2.0 * m * k * n
        if kind == "pass":
            return self.times * float(size)
        return self.times


def gemm_floor(what: str, m: int, k: int, n: int, times: float = 1.0) -> Floor:
    return Floor(what, f"gemm:{m}x{k}x{n}", times)


def pass_floor(what: str, n_bytes: int, times: float = 1.0) -> Floor:
    """``n_bytes`` moved, rounded to whole float32 pairs (one read and one write)."""
    return Floor(what, f"pass:{max(2 * F32, n_bytes // (2 * F32) * 2 * F32)}", times)


def start_floor(what: str) -> Floor:
    return Floor(what, "start")


def training_floor(what: str, key: str) -> Floor:
    """The training ``key`` of :func:`~ntk_linearity.bench.programs.training_program` without the measures."""
    return Floor(what, f"train:{key}")


def human(amount: float, unit: str) -> str:
    """``4.0e9 flop`` -> ``4.00 GFLOP``, ``8.8e7 B`` -> ``88.0 MB`` (decimal prefixes)."""
    if unit in ("process", "run"):
        name = "process start" if unit == "process" else "run without the measures"
        return f"{amount:g} {name}" if amount == 1 else f"{amount:g} x {name}"
    label = "FLOP" if unit == "flop" else "B"
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if amount >= scale:
            return f"{amount / scale:.3g} {prefix}{label}"
    return f"{amount:.3g} {label}"


def _gemm(m: int, k: int, n: int) -> Callable[[], object]:
    import jax
    import jax.numpy as jnp

    ka, kb = jax.random.split(jax.random.key(1))
    A = jax.random.normal(ka, (m, k), jnp.float32)
    B = jax.random.normal(kb, (k, n), jnp.float32)
    product = jax.jit(jnp.matmul)
    return lambda: jax.block_until_ready(product(A, B))


def _memory_pass(n_bytes: int) -> Callable[[], object]:
    import jax
    import jax.numpy as jnp

    x = jnp.ones((n_bytes // (2 * F32),), jnp.float32)
    double = jax.jit(lambda v: 2.0 * v)
    return lambda: jax.block_until_ready(double(x))


def _process_start() -> None:
    subprocess.run([sys.executable, "-c", START_CODE], check=True, capture_output=True)


def reference_program(key: str) -> Callable[[], object]:
    """The reference program of a floor key, built and run once (compiled); call it to time it."""
    kind, _, size = key.partition(":")
    if kind == "gemm":
        program = _gemm(*(int(v) for v in size.split("x")))
    elif kind == "pass":
        program = _memory_pass(int(size))
    elif kind == "start":
        program = _process_start
    elif kind == "train":
        from .programs import training_program  # noqa: PLC0415 (JAX only when timed)

        return training_program(size, linearise=False)
    else:
        raise ValueError(f"unknown floor reference {key!r}")
    program()
    return program
