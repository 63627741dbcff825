"""Fixtures of the report tests: one tiny default chain per test module (it takes most of the time)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipelines"))

from kedro_project_utils import make_project, run_kedro  # noqa: E402


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy on which ``kedro run --env tiny`` (every pipeline, the report included) ran once."""
    project = make_project(tmp_path_factory.mktemp("report"))
    run_kedro(project)
    return project
