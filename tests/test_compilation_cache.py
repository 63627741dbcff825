"""``ntk_linearity.execution.compilation_cache``: where the cache lives and what enabling it sets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ntk_linearity.execution.compilation_cache import ENV_CACHE, cache_directory


@pytest.mark.parametrize(("value", "expected"), [
    (None, "project/.cache/jax"),
    ("", "project/.cache/jax"),
    ("elsewhere/jax", "project/elsewhere/jax"),
    ("/abs/jax", "/abs/jax"),
    ("off", None),
    (" OFF ", None),
])
def test_cache_directory(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(ENV_CACHE, raising=False)
    else:
        monkeypatch.setenv(ENV_CACHE, value)
    found = cache_directory(Path("project"))
    assert (None if found is None else found.as_posix()) == expected


def test_enabling_sets_jax_and_the_environment_of_child_processes(tmp_path):
    """In a fresh interpreter (JAX's configuration is global to a process)."""
    script = f"""
import os, jax
from ntk_linearity.execution.compilation_cache import enable_compilation_cache
os.environ["{ENV_CACHE}"] = "cache"
directory = enable_compilation_cache({str(tmp_path)!r})
assert str(directory) == {str(tmp_path / "cache")!r}, directory
assert jax.config.jax_compilation_cache_dir == str(directory)
assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(directory)
assert float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]) > 0
os.environ["{ENV_CACHE}"] = "off"
assert enable_compilation_cache({str(tmp_path)!r}) is None
"""
    subprocess.run([sys.executable, "-c", script], check=True)
