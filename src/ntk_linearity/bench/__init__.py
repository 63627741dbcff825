"""Benchmark of the tangent-kernel and Hessian numerics (docs/development.md, "Benchmarks").

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

from ntk_linearity.bench.cases import (
    CONV_NETS,
    D_IN,
    DEFAULT_BOTTLENECK_WIDTH,
    DEFAULT_HESSIAN_WIDTH,
    GB,
    IMAGE_SHAPE,
    KERNEL_SIZE,
    MB,
    N_IMAGES,
    N_SAMPLES,
    RESULT_MARKER,
    Case,
    build_cases,
    default_memory_budget,
    estimate_bytes,
    human_bytes,
)
from ntk_linearity.bench.cli import main
from ntk_linearity.bench.report import format_results, format_table, print_header
from ntk_linearity.bench.runner import mem_available_bytes, run_selected, spawn_case
from ntk_linearity.bench.timing import run_case

__all__ = [
    "CONV_NETS", "D_IN", "DEFAULT_BOTTLENECK_WIDTH", "DEFAULT_HESSIAN_WIDTH", "GB", "IMAGE_SHAPE",
    "KERNEL_SIZE", "MB", "N_IMAGES", "N_SAMPLES", "RESULT_MARKER", "Case", "build_cases",
    "default_memory_budget", "estimate_bytes", "format_results", "format_table", "human_bytes", "main",
    "mem_available_bytes", "print_header", "run_case", "run_selected", "spawn_case",
]
