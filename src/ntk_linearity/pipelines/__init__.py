"""Kedro glue: data generation, one modular pipeline per sweep, reporting."""

from __future__ import annotations

import functools
from typing import Callable


def bind(func: Callable, **settings) -> Callable:
    """``func`` with keyword ``settings`` bound (the typed, validated parameters a node receives),
    keeping its name and docstring for Kedro and kedro-viz."""
    return functools.update_wrapper(functools.partial(func, **settings), func)
