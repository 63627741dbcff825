"""LAPACK's threads: importing ``ntk_linearity`` gives a process the BLAS threads of a Dask worker (one), so
that eigenvalues, and every learning rate set from lambda_0, do not depend on the runner or the cores."""

from __future__ import annotations

import os
import subprocess
import sys

from ntk_linearity import ONE_THREAD_BLAS

# lambda_max of a fixed 640 x 640 kernel-like matrix (the size of a digits run's kernel), as its bits,
# and the threads of every BLAS library loaded in the process.
PROBE = """
import sys
if sys.argv[1] == "package":
    import ntk_linearity
import jax.numpy as jnp, numpy as np
from threadpoolctl import threadpool_info
A = np.random.default_rng(0).standard_normal((640, 700)).astype(np.float32)
print(np.asarray(jnp.linalg.eigvalsh(jnp.asarray(A @ A.T))).tobytes().hex())
print(sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}))
"""


def _probe(first_import: str, env: dict[str, str]) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, first_import], env=env, capture_output=True, text=True,
                          check=True, timeout=300)
    return done.stdout.split()


def test_importing_the_package_computes_as_a_dask_worker():
    clean = {k: v for k, v in os.environ.items() if k not in ONE_THREAD_BLAS} | {"JAX_PLATFORMS": "cpu"}
    worker = clean | dict.fromkeys(ONE_THREAD_BLAS, "1")  # what distributed's Nanny sets in each worker
    eigenvalues, threads = _probe("package", clean)
    assert threads == "[1]"
    assert eigenvalues == _probe("numpy", worker)[0]


def test_a_thread_count_the_user_set_is_kept():
    env = {k: v for k, v in os.environ.items() if k not in ONE_THREAD_BLAS} | {"JAX_PLATFORMS": "cpu",
                                                                               "OPENBLAS_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", "import ntk_linearity, os; print(os.environ['OPENBLAS_NUM_THREADS'])"],
                          env=env, capture_output=True, text=True, check=True, timeout=300)
    assert done.stdout.strip() == "2"
