"""ntk-linearity: measuring the transition to linearity of wide networks (Liu, Zhu, Belkin 2020).

The numerics are importable without Kedro::

    from ntk_linearity import mlp, empirical_ntk, hessian_spectral_norm, gradient_descent

Importing the package sets ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` to 1
unless they are set already (:data:`ONE_THREAD_BLAS`). JAX computes eigenvalues on a CPU with LAPACK
(OpenBLAS), whose last digits depend on the number of threads it starts with; one thread, as in every
Dask worker (``distributed`` sets the same variables there), makes a run's numbers the same under every
runner and on every number of cores. It takes effect when ``ntk_linearity`` is imported before NumPy
(as ``kedro run`` does); XLA's own thread pool is not affected.
"""

import os

ONE_THREAD_BLAS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
for _variable in ONE_THREAD_BLAS:
    os.environ.setdefault(_variable, "1")
del _variable

from ntk_linearity.numerics import *  # noqa: E402,F401,F403
from ntk_linearity.numerics import __all__  # noqa: E402

__version__ = "0.1.0"
