"""neural-tangents' empirical NTK on the suite's shallow network, for the comparison of
docs/benchmarks.md. Not a dependency: run it with a separate environment's Python (neural-tangents
0.6.5 needs JAX 0.4),

    /tmp/nt-venv/bin/python src/ntk_linearity/bench/neural_tangents_reference.py [--width 100000]

It prints the median time of ``empirical_ntk_fn`` (STRUCTURED_DERIVATIVES, the fastest of its
implementations on this network) on the erf network d = 10 -> m -> 1 (NTK parameterisation, no biases)
at n = 100 inputs, the time of one (n x m)(m x n) float32 GEMM in the same process, and their ratio,
to set beside the suite's ``ntk_shallow_1e5_structured`` ratio to the same GEMM.
"""

from __future__ import annotations

import argparse
import statistics
import time


def _median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=100_000)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp
    import neural_tangents as nt
    from neural_tangents import stax

    n, d, m = args.n, 10, args.width
    init, apply, _ = stax.serial(stax.Dense(m, W_std=1.0, b_std=None), stax.Erf(),
                                 stax.Dense(1, W_std=1.0, b_std=None))
    X = jax.random.normal(jax.random.PRNGKey(0), (n, d))
    X = X / jnp.linalg.norm(X, axis=1, keepdims=True)
    _, params = init(jax.random.PRNGKey(1), X.shape)
    kernel = jax.jit(nt.empirical_ntk_fn(apply, vmap_axes=0,
                                         implementation=nt.NtkImplementation.STRUCTURED_DERIVATIVES))
    A = jax.random.normal(jax.random.PRNGKey(2), (n, m))
    B = jax.random.normal(jax.random.PRNGKey(3), (m, n))
    product = jax.jit(jnp.matmul)
    t_nt = _median_time(lambda: kernel(X, None, params).block_until_ready(), args.repeats)
    t_gemm = _median_time(lambda: product(A, B).block_until_ready(), args.repeats)
    print(f"neural-tangents {nt.__version__} (jax {jax.__version__}), n={n}, d={d}, m={m}")
    print(f"empirical NTK (structured derivatives): {t_nt:.4f} s")
    print(f"GEMM ({n} x {m})({m} x {n}):             {t_gemm:.4f} s")
    print(f"ratio NTK / GEMM:                        {t_nt / t_gemm:.2f}")


if __name__ == "__main__":
    main()
