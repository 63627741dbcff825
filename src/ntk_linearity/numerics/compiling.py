"""``jax.jit`` that spends on compiling what the program is worth.

A sweep trains dozens of small networks of different shapes, and on a CPU most of a small run's time is
XLA compiling its programs (initialisation, gradient descent, kernel factors and Grams, Hessian norm),
not running them. LLVM's optimisation passes take about a third of that compile time and buy nothing a
small program could notice: its run time is microseconds either way. :func:`sized_jit` therefore
compiles a program whose array arguments hold at most :data:`SMALL_PROGRAM_ELEMENTS` elements with
:data:`QUICK_COMPILE` options, and a larger one with XLA's defaults (where unoptimised code would run up
to three times slower: a wide network's gradient-descent loop, its kernel snapshots, Lanczos).

Which way a program is compiled depends only on the shapes of its arguments, so a configuration
always runs the same compiled programs and gives the same numbers.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from typing import Any, Callable, Iterator

import jax

SMALL_PROGRAM_ELEMENTS = 1 << 17  # 131,072 elements (0.5 MB of float32) over all array arguments
QUICK_COMPILE = {"xla_backend_optimization_level": 0}  # LLVM without its optimisation passes
_ONE_SHOT = contextvars.ContextVar("one_shot", default=False)


@contextlib.contextmanager
def one_shot() -> Iterator[None]:
    """Compile every :func:`sized_jit` program called inside quickly, whatever its size: for programs
    that run once per network shape (e.g. the float64 repeat of a kernel), where compile time is all
    there is to save."""
    token = _ONE_SHOT.set(True)
    try:
        yield
    finally:
        _ONE_SHOT.reset(token)


class SizedJit:
    """Two compiled versions of ``fn``: quick to compile for small arguments, optimised otherwise.
    Called inside another traced function it is inlined there (compiled with the caller's options)."""

    def __init__(self, fn: Callable, **jit_kwargs: Any):
        self.quick = jax.jit(fn, compiler_options=QUICK_COMPILE, **jit_kwargs)
        self.optimised = jax.jit(fn, **jit_kwargs)
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        leaves = jax.tree.leaves((args, kwargs))
        if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
            return self.optimised(*args, **kwargs)
        small = _ONE_SHOT.get() or sum(int(getattr(leaf, "size", 0)) for leaf in leaves) <= SMALL_PROGRAM_ELEMENTS
        return (self.quick if small else self.optimised)(*args, **kwargs)


def sized_jit(fn: Callable | None = None, **jit_kwargs: Any):
    """``jax.jit(fn, **jit_kwargs)`` compiled by the size of its arguments (module docstring); usable as
    ``@sized_jit``, ``@sized_jit(static_argnums=0)`` or ``sized_jit(fn)``."""
    if fn is None:
        return lambda f: SizedJit(f, **jit_kwargs)
    return SizedJit(fn, **jit_kwargs)
