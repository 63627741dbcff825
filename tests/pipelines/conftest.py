"""Fixtures for tests that run the pipelines through a KedroSession (see kedro_project_utils)."""

from pathlib import Path

import pytest
from kedro_project_utils import make_project


@pytest.fixture
def kedro_project(tmp_path: Path) -> Path:
    return make_project(tmp_path)
